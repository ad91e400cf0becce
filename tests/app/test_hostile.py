"""Hostile conditions (issue 15): tampered caches, crashing plugins, full disks, read-only folders."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import write_plugin
from reid.errors import ReidError
from reid.search.index import ReferenceIndex
from reid.interrupts import Interrupted
from reid.io.synthetic import write_dataset


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
    import reid.io.files

    def no_space(src, dst, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(reid.io.files.shutil, "copy2", no_space)
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "-m", "Any",
                 "--result-dir", tmp_path / "out", ok=False)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and lines[-1].startswith("error: ") and "No space left on device" in lines[-1]
    assert "Traceback" not in result.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def forbid_loading_a_model(monkeypatch, before: str) -> None:
    """Checks that must come first: any attempt to load an encoder fails the test."""

    def never(*args, **kwargs):
        raise AssertionError(f"the model was loaded before {before}")

    monkeypatch.setattr("reid.models.encoders.load_encoder", never)


def test_a_result_folder_that_cannot_be_written_fails_before_the_work(cli, data, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    forbid_loading_a_model(monkeypatch, before="the output folder was checked")
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets",
                 "--result-dir", blocker / "out", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "out: cannot create it (" in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.png").write_bytes(b"x")
    result = cli("cluster", data / "targets", "--result-dir", tmp_path / "full", ok=False)
    assert result.exit_code == 1 and "not empty" in result.stderr


def test_an_enrollment_typo_is_reported_before_the_model_loads(cli, data, monkeypatch):
    forbid_loading_a_model(monkeypatch, before="the enrollment was read")
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


# --- files reid did not write are not replaced without --force ---------------------------------------------

def test_outputs_refuse_a_file_reid_did_not_write_unless_forced(cli, data, tmp_path, monkeypatch):
    mine = tmp_path / "notes.txt"
    mine.write_text("the user's own notes")
    forbid_loading_a_model(monkeypatch, before="the output path was checked")
    attempts = [("visualize", data / "targets", "--out", mine), ("evaluate", data / "references", "--report", mine),
                ("enroll", data / "enroll.json", "--index", mine),
                ("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--index", mine)]
    for command in attempts:
        result = cli(*command, ok=False)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, command
        assert "reid did not write" in result.stderr and "--force" in result.stderr
    assert mine.read_text() == "the user's own notes"


def test_forced_and_own_outputs_are_replaced(cli, data, tmp_path):
    index, picture, report = tmp_path / "refs.faiss", tmp_path / "map.png", tmp_path / "report.html"
    for path in (index, picture, report):
        path.write_text("old")
    cli("enroll", data / "enroll.json", "--index", index, "--force", "--encoder", "color_texture")
    cli("enroll", data / "enroll.json", "--index", index, "--rebuild", "--encoder", "color_texture")  # its own: no --force
    assert ReferenceIndex.load(index).size == 18
    cli("visualize", data / "targets", "--out", picture, "--force", "--umap-dim", "0", "--encoder", "color_texture")
    cli("visualize", data / "targets", "--out", picture, "--umap-dim", "0", "--encoder", "color_texture")
    cli("evaluate", data / "references", "--report", report, "--force", "--runs", "1", "--encoder", "color_texture")
    cli("evaluate", data / "references", "--report", report, "--runs", "1", "--encoder", "color_texture")
    assert report.read_text().startswith("<!doctype html>")


# --- folder outputs appear complete or not at all ---------------------------------------------------------------

def test_a_folder_output_that_fails_halfway_leaves_nothing_and_the_rerun_works(cli, data, tmp_path, monkeypatch):
    import reid.jobs.cluster

    real = reid.jobs.cluster.contact_sheet
    calls = []

    def fails_on_the_second_sheet(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(reid.jobs.cluster, "contact_sheet", fails_on_the_second_sheet)
    out = tmp_path / "clusters"
    result = cli("cluster", data / "targets", "--result-dir", out, "--encoder", "color_texture", ok=False)
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == [data]  # no partial folder, no hidden staging folder
    monkeypatch.setattr(reid.jobs.cluster, "contact_sheet", real)
    cli("cluster", data / "targets", "--result-dir", out, "--encoder", "color_texture")
    assert (out / "clusters.json").is_file()


def test_detect_out_is_renamed_into_place_whole(cli, data, tmp_path, monkeypatch):
    import reid.jobs.detect

    out = tmp_path / "faces"
    out.mkdir()  # an empty folder is fine and is replaced by the result
    monkeypatch.setattr(reid.jobs.detect, "write_json_atomic", lambda *a: (_ for _ in ()).throw(Interrupted(signal.SIGTERM)))
    result = cli("detect", data / "targets", "--detector", "whole", "--out", out, ok=False)
    assert result.exit_code == 143 and result.stderr.count("\n") == 1 and "interrupted (SIGTERM)" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "faces"] and not any(out.iterdir())
    monkeypatch.undo()
    cli("detect", data / "targets", "--detector", "whole", "--out", out)
    assert (out / "detections.json").is_file() and len(list(out.glob("*.png"))) == len(list((data / "targets").iterdir()))


# --- interrupts -------------------------------------------------------------------------------------------------

def test_an_interrupt_while_writing_the_index_keeps_the_old_index(cli, data, monkeypatch):
    import faiss

    index = Path(cli.json("enroll", data / "enroll.json", "--encoder", "color_texture")["index"])
    before = index.read_bytes()

    def interrupted(index, path):
        Path(path).write_bytes(b"partial")
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(faiss, "write_index", interrupted)
    result = cli("enroll", data / "enroll.json", "--rebuild", "--encoder", "color_texture", ok=False)
    assert result.exit_code == 130 and result.stderr.count("\n") == 1 and "interrupted (SIGINT)" in result.stderr
    assert index.read_bytes() == before and ReferenceIndex.load(index).size == 18
    assert not [p for p in data.iterdir() if p.name.endswith(".tmp")]


def test_a_real_interrupt_while_a_plugin_loads_is_not_taken_for_a_broken_plugin(tmp_path):
    from reid import plugins

    code = "import signal\nfrom reid.interrupts import Interrupted\nraise Interrupted(signal.SIGINT)\n"
    write_plugin(tmp_path / "slow", code)
    with pytest.raises(Interrupted):
        plugins.load_plugins([tmp_path / "slow"])


def _reid(*args: object) -> subprocess.Popen:
    """The console script's entry point in a new process, as a user runs it."""
    return subprocess.Popen([sys.executable, "-c", "from reid.app.entry import main; main()", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "REID_DEVICE": "cpu"})


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial")) or ".partial" in p.parent.name]


@pytest.mark.slow
def test_signals_at_random_moments_end_with_one_line_and_leave_nothing_half_written(tmp_path):
    """SIGINT and SIGTERM sent to `reid cluster`, `reid enroll` and `reid classify` at random points: exit 130 / 143
    with one line (or a normal finish), no temporary file, a cluster result complete or absent, an index old or
    new, a classify result folder whose copies are the ones its classification.json lists."""
    write_dataset(tmp_path, characters=3, per_character=5, size=48, seed=3)
    enroll = ["enroll", tmp_path / "enroll.json", "--encoder", "color_texture", "--rebuild"]
    cluster = ["cluster", tmp_path / "targets", "--encoder", "color_texture", "--umap-dim", "0"]
    sorted_into = tmp_path / "sorted"
    classify = ["classify", "--enroll", tmp_path / "enroll.json", "--target-dir", tmp_path / "targets", "--encoder",
                "color_texture", "-m", "Any", "--result-dir", sorted_into]
    started = time.monotonic()
    first = _reid(*enroll)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    duration = time.monotonic() - started
    index = tmp_path / "enroll.color_texture.faiss"
    references = ReferenceIndex.load(index).size
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    for attempt in range(6):
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(0.3, duration * 1.1)
        out = tmp_path / f"clusters{attempt}"
        command = [[*cluster, "--result-dir", out], enroll, [*classify, *(["--closed-set"] if attempt % 2 else [])]][attempt % 3]
        process = _reid(*command)
        time.sleep(delay)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
        context = f"seed {seed}, {command[0]} {signal.Signals(signum).name} after {delay:.2f}s: {stderr!r}"
        assert process.returncode in (0, 128 + signum), context
        said = [line for line in stderr.splitlines() if not line.startswith("warning: ")]  # a finished run's warnings
        assert "Traceback" not in stderr and len(said) <= 1, context
        assert not _leftovers(tmp_path), context
        assert ReferenceIndex.load(index).size == references, context  # the old or the new one, complete
        if command[0] == "cluster":
            # a signal between the result's rename into place and the exit finds it finished: complete or absent
            assert (out / "clusters.json").is_file() or (process.returncode and not out.exists()), context
        if command[0] == "classify" and (sorted_into / "classification.json").is_file():
            listed = {m["copied_to"] for m in json.loads((sorted_into / "classification.json").read_text())["matches"]}
            there = {str(p.absolute()) for p in sorted_into.rglob("*.png")}
            assert there == listed, context


@pytest.mark.slow
def test_two_rebuilds_of_one_index_at_once_end_with_one_valid_index(tmp_path):
    write_dataset(tmp_path, characters=3, per_character=5, size=48, seed=4)
    both = [_reid("enroll", tmp_path / "enroll.json", "--encoder", "color_texture", "--rebuild") for _ in range(2)]
    for process in both:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    assert ReferenceIndex.load(tmp_path / "enroll.color_texture.faiss").size > 10
    assert not _leftovers(tmp_path)


def test_a_signal_that_lands_in_a_callback_is_delivered_again_and_teardown_noise_is_dropped(monkeypatch):
    # numba and llvmlite run Python callbacks from C, where Python prints an exception and carries on
    from types import SimpleNamespace

    from reid import interrupts

    sent = []
    monkeypatch.setattr(interrupts, "_received", [signal.SIGTERM])
    monkeypatch.setattr(interrupts, "_deliver_again", sent.append)
    interrupts._unraisable(SimpleNamespace(exc_value=Interrupted(signal.SIGTERM)))
    interrupts._unraisable(SimpleNamespace(exc_value=AttributeError("an object the interruption left half-built")))
    assert sent == [signal.SIGTERM]


def test_a_reader_that_goes_away_ends_the_command_quietly():
    # `reid ... | head`: the pipe closes before reid writes; no "error: Broken pipe; check free space" line
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([sys.executable, "-c", "from reid.app.entry import main; main()", "plugins",
                           "--json"], stdout=write, stderr=subprocess.PIPE, text=True,
                          timeout=120)
    os.close(write)
    assert done.returncode == 141 and "error" not in done.stderr


def test_a_signal_a_c_extension_turned_into_another_error_is_still_a_signal():
    """SIGINT during a C extension's initialisation surfaces as ImportError "initialization failed", caused by the
    interrupt (seen in CI: scipy's pypocketfft, imported by hdbscan): it must end like any interrupt."""
    import signal

    from reid.interrupts import Interrupted, interrupt_behind

    try:
        try:
            raise Interrupted(signal.SIGTERM)
        except Interrupted as exc:
            raise ImportError("initialization failed") from exc
    except ImportError as exc:
        assert interrupt_behind(exc).exit_code == 143
    assert interrupt_behind(ValueError("plain")) is None
