"""classify --result-dir: never inside the target folder, a rerun replaces what reid wrote there before (the folders
and classification.json agree), a file the user changed is kept, two runs take turns, an interrupt leaves the
earlier result."""

import json
import threading
from pathlib import Path

import pytest

import reid.jobs.classify
from reid.jobs.classify import copy_into_folders


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def copies(folder: Path) -> set[str]:
    return files(folder) - {"classification.json", "embeddings.npy"}


def listed(folder: Path) -> set[str]:
    matches = json.loads((folder / "classification.json").read_text())["matches"]
    return {Path(m["copied_to"]).relative_to(folder.absolute()).as_posix() for m in matches}


def classify(cli, data, out, *extra, ok=True):
    return cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "-m", "Any",
               "--result-dir", out, *extra, ok=ok)


@pytest.mark.parametrize("inside", [".", "out", "out/deeper"])
def test_a_result_folder_inside_the_target_folder_is_refused(cli, data, inside):
    before = files(data / "targets")
    result = classify(cli, data, data / "targets" / inside, ok=False)
    assert result.exit_code == 1 and "is inside --target-dir" in result.stderr and files(data / "targets") == before


def test_cluster_and_detect_refuse_an_output_inside_their_input(cli, data):
    for args in (("cluster", data / "targets", "--result-dir", data / "targets" / "c"),
                 ("detect", data / "targets", "--out", data / "targets" / "d")):
        result = cli(*args, ok=False)
        assert result.exit_code == 1 and "is inside IMAGE_DIR" in result.stderr


def test_a_rerun_with_other_settings_replaces_the_earlier_copies(cli, data, tmp_path):
    out = tmp_path / "out"
    classify(cli, data, out)
    assert copies(out) == listed(out) and any(p.startswith("unknown/") for p in listed(out))
    classify(cli, data, out, "--closed-set")
    assert copies(out) == listed(out) and not (out / "unknown").exists()
    assert len(listed(out)) == len(list((data / "targets").iterdir()))


def test_a_copy_the_user_changed_or_added_is_kept(cli, data, tmp_path):
    out = tmp_path / "out"
    classify(cli, data, out)
    changed = out / sorted(p for p in listed(out) if p.startswith("unknown/"))[0]
    changed.write_bytes(b"the user's own notes")
    (out / "unknown" / "mine.txt").write_text("mine")
    classify(cli, data, out, "--closed-set")
    assert changed.read_bytes() == b"the user's own notes" and (out / "unknown" / "mine.txt").read_text() == "mine"


def test_an_interrupted_copy_leaves_the_earlier_result_as_it_was(cli, data, tmp_path, monkeypatch):
    out = tmp_path / "out"
    classify(cli, data, out)
    before = {p: (out / p).read_bytes() for p in files(out)}
    real, calls = reid.jobs.classify.copy_or_reuse, []

    def stop_midway(src, dest_dir):
        calls.append(src)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(src, dest_dir)

    monkeypatch.setattr(reid.jobs.classify, "copy_or_reuse", stop_midway)
    result = classify(cli, data, out, "--closed-set", ok=False)
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert {p: (out / p).read_bytes() for p in files(out)} == before


def test_two_runs_into_one_result_folder_take_turns(data, tmp_path, monkeypatch):
    from reid.models.encoders import load_encoder
    from reid.jobs.classify import classify_paths
    from reid.search.enrollment import enroll
    from reid.io.images import list_images

    encoder = load_encoder("color_texture")
    enrolled = enroll(data / "enroll.json", encoder)
    targets = list_images(data / "targets")
    results = [classify_paths(enrolled, encoder, targets, closed_set=closed) for closed in (False, True)]
    out = tmp_path / "out"
    real, inside = reid.jobs.classify.copy_or_reuse, []

    def slow_copy(src, dest_dir):
        inside.append(threading.get_ident())
        threading.Event().wait(0.002)
        return real(src, dest_dir)

    monkeypatch.setattr(reid.jobs.classify, "copy_or_reuse", slow_copy)
    runs = [threading.Thread(target=copy_into_folders, args=(r, out)) for r in results]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    switches = sum(a != b for a, b in zip(inside, inside[1:]))
    assert switches == 1  # one run copied all of its images, then the other
    assert copies(out) == listed(out)
