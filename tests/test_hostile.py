"""Hostile conditions (issue 15): tampered caches, crashing plugins, full disks, read-only folders."""

import errno
from pathlib import Path

import pytest

from reid.errors import ReidError
from reid.index import ReferenceIndex


def test_an_index_overwritten_at_the_same_size_is_rebuilt_not_trusted(cli, data):
    first = cli.json("enroll", data / "enroll.json")
    index = Path(first["index"])
    raw = bytearray(index.read_bytes())
    raw[-400:-200] = bytes(200)  # vectors zeroed in place: same size, same structure
    index.write_bytes(bytes(raw))
    with pytest.raises(ReidError, match="changed since its label map was written"):
        ReferenceIndex.load(index)
    assert not cli.json("enroll", data / "enroll.json")["reused"]
    assert cli.json("enroll", data / "enroll.json")["reused"]


def test_a_failing_index_write_is_one_error_line_and_leaves_no_temporary_file(cli, data, monkeypatch):
    import faiss

    def full_disk(index, path):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("Error in faiss::FileIOWriter: write error (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", full_disk)
    result = cli("enroll", data / "enroll.json", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "cannot write the index" in result.stderr
    assert not [p for p in data.iterdir() if p.name.endswith(".tmp")]


def test_an_os_error_while_writing_is_one_error_line(cli, data, tmp_path, monkeypatch):
    import reid.fileio

    def no_space(src, dst, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(reid.fileio.shutil, "copy2", no_space)
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "-m", "Any",
                 "--result-dir", tmp_path / "out", ok=False)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and lines[-1].startswith("error: ") and "No space left on device" in lines[-1]
    assert "Traceback" not in result.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_a_result_folder_that_cannot_be_written_fails_before_the_work(cli, data, tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setattr("reid.app.commands.classify.load_encoder", never)
    monkeypatch.setattr("reid.app.commands.cluster.load_encoder", never)
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets",
                 "--result-dir", blocker / "out", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "cannot create its folder" in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.png").write_bytes(b"x")
    result = cli("cluster", data / "targets", "--result-dir", tmp_path / "full", ok=False)
    assert result.exit_code == 1 and "not empty" in result.stderr


def test_an_enrollment_typo_is_reported_before_the_model_loads(cli, data, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the enrollment was read")

    monkeypatch.setattr("reid.app.commands.classify.load_encoder", never)
    monkeypatch.setattr("reid.app.commands.enroll.load_encoder", never)
    (data / "typo.json").write_text('{"Aoi": "references/Aoi",}')
    for command in (("classify", "--enroll", data / "typo.json", "--target-dir", data / "targets"), ("enroll", data / "typo.json")):
        result = cli(*command, ok=False)
        assert result.exit_code == 1 and "invalid JSON" in result.stderr and result.stderr.count("\n") == 1


def test_a_failing_head_write_is_one_error_line_and_leaves_no_temporary_file(cli, data, monkeypatch):
    import numpy as np

    def full_disk(f, **arrays):
        f.write(b"partial")
        raise OSError(28, "No space left on device", "head.npz")

    monkeypatch.setattr(np, "savez", full_disk)
    result = cli("enroll", data / "enroll.json", "--head", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "No space left on device" in result.stderr
    assert not [p for p in data.iterdir() if p.name.endswith(".tmp") or p.name.endswith(".npz")]
