"""The animeface detector (AnimeFace 2009 from the animeface wheel) on drawn characters; skipped where the
wheel does not install."""

import random
from importlib import metadata

import pytest
from PIL import Image

from reid.models.detectors.base import Box
from reid.io.synthetic import CHARACTERS, draw_character

pytest.importorskip("animeface")
from reid.models.detectors.animeface import AnimeFaceDetector, non_maximum_suppression  # noqa: E402


def two_face_page() -> Image.Image:
    """Two drawn characters, 128 px each, side by side (a seed on which AnimeFace finds both)."""
    rng = random.Random(2)
    page = Image.new("RGB", (304, 160), "white")
    for i in range(2):
        page.paste(draw_character(CHARACTERS[2 + i], rng, 128), (16 + 144 * i, 16))
    return page


def small_faces_page() -> Image.Image:
    """Three 48 px drawings: their faces are under the detector's 43 px scanning window."""
    rng = random.Random(0)
    page = Image.new("RGB", (200, 80), "white")
    for i in range(3):
        page.paste(draw_character(CHARACTERS[i], rng, 48), (8 + 64 * i, 16))
    return page


def test_finds_each_drawn_face_and_nothing_on_a_blank_page():
    boxes = AnimeFaceDetector().detect(two_face_page())
    assert len(boxes) == 2 and all(b.score >= 0.5 for b in boxes)
    left, right = sorted(boxes, key=lambda b: b.left)
    assert 16 <= left.left and left.right <= 144 and 160 <= right.left and right.right <= 288
    assert AnimeFaceDetector().detect(Image.new("RGB", (200, 200), "white")) == []


def test_a_smaller_min_face_finds_faces_under_the_scanning_window():
    page = small_faces_page()
    assert AnimeFaceDetector().detect(page) == []
    assert len(AnimeFaceDetector(min_face=20).detect(page)) == 3


def test_overlapping_boxes_from_two_scales_keep_the_most_likely():
    big, nested, apart = Box(0, 0, 100, 100, 0.9), Box(10, 10, 60, 60, 0.95), Box(200, 0, 240, 40, 0.6)
    assert non_maximum_suppression([big, nested, apart]) == [nested, apart]


def test_detect_command_with_animeface(cli, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    two_face_page().save(folder / "two.png")
    Image.new("RGB", (120, 120), "white").save(folder / "blank.png")
    out = cli.json("detect", folder, "--detector", "animeface", "--out", tmp_path / "faces")
    assert (out["images"], out["with_face"], out["faces"]) == (2, 1, 2)
    assert out["no_face"] == [str(folder / "blank.png")]
    assert len(list((tmp_path / "faces").glob("*_face*.png"))) == 2


def test_an_unchecked_animeface_version_is_refused(cli, tmp_path, monkeypatch):
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "9.9" if name == "animeface" else real(name))
    (tmp_path / "pages").mkdir()
    result = cli("detect", tmp_path / "pages", "--detector", "animeface", ok=False)
    assert result.exit_code == 1 and "animeface 9.9 is installed" in result.stderr and result.stderr.count("\n") == 1


def test_a_large_image_is_scanned_shrunk_and_boxes_come_back_in_its_coordinates(monkeypatch):
    import reid.models.detectors.animeface as module
    from reid.models.detectors.animeface import _overlap

    page = Image.new("RGB", (320, 320), "white")
    page.paste(draw_character(CHARACTERS[3], random.Random(3), 256), (32, 32))  # a seed found at both sizes
    [full] = AnimeFaceDetector().detect(page)
    monkeypatch.setattr(module, "MAX_SCAN_PIXELS", 320 * 320 // 4)  # scanned at half size
    [shrunk] = AnimeFaceDetector().detect(page)
    assert _overlap(full, shrunk) > 0.8  # unscaled half-size coordinates would not overlap at all


def test_tiny_images_have_no_face():
    for size in [(1, 1), (5, 300), (43, 43)]:
        assert AnimeFaceDetector(min_face=10).detect(Image.new("RGB", size, "grey")) == []
