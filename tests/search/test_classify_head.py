"""classify's Head mode, its cache, the calibrated "unknown", outlier references, the older option spellings."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression

from reid.search.enrollment import find_outliers
from reid.search.head import CharacterHead, reference_views
from reid.search.open_set import calibrate
from reid.search.ranking import Mode

from helpers import one_error_line


def clusters(characters: int, per_character: int, dim: int = 32, spread: float = 0.15, seed: int = 0):
    """Unit vectors around one random centre per character, and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(characters, dim))
    vectors = np.repeat(centres, per_character, axis=0) + spread * rng.normal(size=(characters * per_character, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), [f"c{i}" for i in range(characters) for _ in range(per_character)]


# --- the head ---------------------------------------------------------------------------

def test_head_learns_the_characters_and_survives_a_save(tmp_path):
    vectors, labels = clusters(5, 8)
    head = CharacterHead().fit(vectors, labels)
    assert list(head.classes_) == sorted(set(labels))
    proba = head.predict_proba(vectors)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.mean(head.classes_[proba.argmax(axis=1)] == np.array(labels)) == 1.0
    head.save(tmp_path / "h.npz", {"key": 1})
    loaded, meta = CharacterHead.load(tmp_path / "h.npz")
    assert meta == {"key": 1} and np.allclose(loaded.predict_proba(vectors), proba)


def test_head_with_two_characters_matches_scikit_learn_and_one_character_is_certain():
    vectors, labels = clusters(2, 6)
    ours = CharacterHead(C=1.0).fit(vectors, labels).predict_proba(vectors)
    theirs = LogisticRegression(C=1.0, max_iter=1000).fit(vectors, labels).predict_proba(vectors)
    assert np.allclose(ours, theirs, atol=1e-4)
    assert np.allclose(CharacterHead().fit(vectors[:6], labels[:6]).predict_proba(vectors), 1)


def test_damaged_head_file_is_one_clear_error(tmp_path):
    (tmp_path / "h.npz").write_bytes(b"not a numpy file")
    with pytest.raises(Exception, match="unreadable classifier head"):
        CharacterHead.load(tmp_path / "h.npz")


def test_reference_views_are_the_image_crops_grey_and_the_mirror_when_asked():
    image = Image.new("RGB", (100, 50), (200, 30, 30))
    views = reference_views(image, mirror=False)
    assert [v.size for v in views] == [(100, 50), (88, 44), (88, 44), (100, 50)]
    assert len(set(views[3].getpixel((0, 0)))) == 1  # grey
    assert len(reference_views(image, mirror=True)) == 5


# --- open set and outliers --------------------------------------------------------------

@pytest.mark.parametrize("mode", list(Mode))
def test_calibration_puts_the_threshold_between_enrolled_faces_and_strangers(mode):
    vectors, labels = clusters(6, 6, spread=0.1)
    calibration = calibrate(vectors[:, None], labels, [mode])[mode]
    assert calibration.auroc > 0.95 and calibration.known_kept > 0.9 and calibration.strangers_rejected > 0.9
    assert calibration.known > 0 and calibration.strangers > 0 and calibration.threshold is not None


def test_calibration_says_why_when_it_cannot():
    vectors, labels = clusters(3, 1)
    assert "single reference" in calibrate(vectors[:, None], labels, [Mode.any])[Mode.any].reason
    vectors, labels = clusters(1, 5)
    assert calibrate(vectors[:, None], labels, [Mode.avg])[Mode.avg].threshold is None
    vectors, labels = clusters(2, 5)
    two = calibrate(vectors[:, None], labels, [Mode.any, Mode.head])
    assert two[Mode.any].threshold is not None and "two characters" in two[Mode.head].reason


def test_an_outlier_reference_is_found_and_small_characters_are_left_alone():
    vectors, labels = clusters(2, 8, spread=0.1)
    stray = -vectors[0]  # a false face: like nothing of its character
    vectors = np.vstack([vectors, stray, vectors[8:10], stray])
    labels = labels + ["c0", "small", "small", "small"]
    scores, typical, outlier = find_outliers(vectors, labels)
    assert list(np.flatnonzero(outlier)) == [16]
    assert scores[16] < typical[16] - 0.5


# --- the command line -------------------------------------------------------------------

def truth(data: Path) -> dict:
    return json.loads((data / "targets_truth.json").read_text())


def test_head_mode_sorts_targets_and_flags_the_stranger(cli, data):
    result = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--mode", "head")
    assert result["mode"] == "Head" and result["threshold_source"] == "calibrated on the enrollment"
    assert result["calibration"]["threshold"] == result["threshold"] and Path(result["head"]).is_file()
    expected = truth(data)
    enrolled = [m for m in result["matches"] if expected[m["relative_path"]] != "unknown"]
    strangers = [m for m in result["matches"] if expected[m["relative_path"]] == "unknown"]
    assert np.mean([m["character"] == expected[m["relative_path"]] for m in enrolled]) >= 0.8
    assert np.mean([m["character"] == "unknown" for m in strangers]) >= 0.5


@pytest.mark.parametrize("mode", ["Any", "Avg"])
def test_default_threshold_is_calibrated_on_the_enrollment(cli, data, mode):
    result = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--mode", mode)
    assert result["threshold_source"] == "calibrated on the enrollment" and result["head"] is None
    strangers = [m for m in result["matches"] if truth(data)[m["relative_path"]] == "unknown"]
    assert np.mean([m["character"] == "unknown" for m in strangers]) >= 0.5
    table = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--mode", mode).stdout
    assert "calibrated on the enrollment" in table and "AUROC" in table


def test_head_is_cached_beside_the_index_and_refitted_when_a_reference_changes(cli, data):
    first = cli.json("enroll", data / "enroll.json", "--head")
    head = Path(first["head"])
    assert head == data / f"enroll.{first['encoder']}.head.npz" and not first["reused"]
    assert set(first["calibration"]) == {"Any", "Avg", "Head"}
    stamp = head.stat().st_mtime_ns
    again = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "-m", "Head")
    assert again["index_reused"] and head.stat().st_mtime_ns == stamp
    reference = sorted((data / "references" / "Beni").iterdir())[0]
    os.utime(reference, ns=(reference.stat().st_atime_ns, reference.stat().st_mtime_ns + 10**9))
    assert not cli.json("enroll", data / "enroll.json", "--head")["reused"]
    assert head.stat().st_mtime_ns != stamp
    # an index without a head is rebuilt once the head is asked for
    head.unlink()
    assert not cli.json("enroll", data / "enroll.json", "--head")["reused"] and head.is_file()


def test_a_false_face_among_the_references_is_left_out_and_named(cli, data):
    junk = data / "references" / "Aoi" / "zz_not_a_face.png"
    Image.effect_noise((64, 64), 80).convert("RGB").save(junk)
    result = cli("enroll", data / "enroll.json", "--json")
    report = json.loads(result.stdout)
    assert [d["path"] for d in report["dropped"]] == [str(junk)] and report["references"]["Aoi"] == 6
    assert "zz_not_a_face.png" in result.stderr and "--keep-outliers" in result.stderr
    kept = cli.json("enroll", data / "enroll.json", "--keep-outliers")
    assert kept["dropped"] == [] and kept["references"]["Aoi"] == 7 and not kept["reused"]


def test_older_option_spellings_run(cli, data):
    result = cli.json("classify", "--enroll-config-fn", data / "enroll.json", "--target-dir", data / "targets",
                      "--gpu", "-1")
    assert len(result["matches"]) == len(truth(data))


def test_gpu_without_cuda_is_one_error_line(cli, data):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--gpu", "0", ok=False)
    one_error_line(result, "cuda:0", "--device cpu")


def test_target_folders_are_read_recursively_and_copies_keep_the_relative_path(cli, data, tmp_path):
    targets = tmp_path / "targets"
    images = sorted((data / "targets").iterdir())
    for i, image in enumerate(images[:6]):
        folder = targets / f"volume{i % 2}" / "chapter1"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, folder / "page.png" if i < 2 else folder / image.name)
    out = tmp_path / "sorted"
    result = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", targets, "--result-dir", out)
    relative = sorted(m["relative_path"] for m in result["matches"])
    assert len(relative) == 6 and "volume0/chapter1/page.png" in relative and "volume1/chapter1/page.png" in relative
    for m in result["matches"]:
        assert Path(m["copied_to"]) == out / m["character"] / m["relative_path"]
