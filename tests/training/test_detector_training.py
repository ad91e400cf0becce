"""`reid train detector` end to end on tiny drawn characters, the composite pages it learns from, and the
score threshold it sets."""

import json
import random
import shutil

import pytest
from PIL import Image

from reid.models.detectors.base import Box
from reid.io.synthetic import CHARACTERS, draw_character
from reid.training.composites import PageStyle, compose_page, scramble, typical_box
from reid.training.detector import calibrate


@pytest.fixture(scope="module")
def crops():
    rng = random.Random(0)
    return [draw_character(rng.choice(CHARACTERS), rng, 64) for _ in range(6)]


def test_pages_are_reproducible_and_their_boxes_lie_on_the_page(crops):
    style = PageStyle(size=128)
    faces = [(0.2, 0.2, 0.8, 0.8)] * len(crops)
    pages = [compose_page(crops, faces, random.Random(seed), style) for seed in range(30)]
    again = compose_page(crops, faces, random.Random(3), style)
    assert again[0].tobytes() == pages[3][0].tobytes() and again[1] == pages[3][1]
    boxes = [box for _, page_boxes in pages for box in page_boxes]
    assert len(boxes) > 30
    assert all(0 <= b.left < b.right <= 128 and 0 <= b.top < b.bottom <= 128 for b in boxes)
    assert all(page.size == (128, 128) and page.mode == "RGB" for page, _ in pages)


def test_a_scrambled_crop_keeps_its_size_and_colours_but_not_its_layout(crops):
    crop = crops[0]
    fake = scramble(crop, random.Random(1))
    assert fake.size == crop.size
    assert sorted(fake.getcolors(64 * 64)) == sorted(crop.getcolors(64 * 64))
    assert fake.tobytes() != crop.tobytes()


def test_typical_box_is_the_median_of_the_found_ones():
    assert typical_box([(0.1, 0.2, 0.7, 0.8), None, (0.3, 0.2, 0.9, 0.8), (0.2, 0.2, 0.8, 0.8)]) == (0.2, 0.2, 0.8, 0.8)
    assert typical_box([None]) == (0.175, 0.175, 0.825, 0.825)


def test_calibration_takes_the_lowest_threshold_that_keeps_the_precision():
    face = Box(0, 0, 10, 10)
    pages = [([(Box(0, 0, 10, 10), 0.9), (Box(50, 50, 60, 60), 0.5)], [face]),
             ([(Box(1, 1, 10, 10), 0.6), (Box(40, 40, 50, 50), 0.2)], [face, Box(80, 80, 90, 90)])]
    result = calibrate(pages, target=0.99)
    assert result["score_threshold"] == 0.6 and result["recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert calibrate(pages, target=0.6)["score_threshold"] == 0.5


@pytest.mark.slow
def test_train_detector_writes_a_plugin_that_detect_and_similarity_load(cli, tmp_path, dataset):
    plugin = tmp_path / "tiny_fcos"
    cli("train", "detector", dataset / "references", "--out", plugin, "--steps", "2", "--batch-size", "2",
        "--page-size", "96", "--input-size", "128", "--boxes-from", "none", "--init", "none")
    assert {"plugin.py", "config.json", "weights.pt", "train_log.jsonl", "loss.png"} <= {p.name for p in plugin.iterdir()}
    config = json.loads((plugin / "config.json").read_text())
    assert config["architecture"] == "fcos_lite0" and 0 <= config["score_threshold"] <= 1
    assert config["training"]["calibration"]["pages"] == 200

    listing = cli("--plugin-dir", plugin, "plugins").stdout
    assert "tiny_fcos" in listing
    pages = tmp_path / "pages"
    pages.mkdir()
    for i, crop in enumerate(list((dataset / "targets").iterdir())[:3]):
        shutil.copy(crop, pages / crop.name)
    result = cli("--plugin-dir", plugin, "detect", pages, "--detector", "tiny_fcos", "--out", tmp_path / "crops", "--json")
    assert json.loads(result.stdout)["images"] == 3
    a, b = sorted(pages.iterdir())[:2]
    assert "score" in cli.json("--plugin-dir", plugin, "similarity", a, b, "--detector", "tiny_fcos")

    # fine-tuned from it, with pages cut from whole illustrations (the drawn targets, faces found by itself)
    tuned = tmp_path / "tuned"
    (pages / "broken.png").write_bytes(b"not an image")  # skipped with a warning, not fatal
    cli("--plugin-dir", plugin, "train", "detector", dataset / "references", "--out", tuned, "--steps", "1",
        "--batch-size", "2", "--page-size", "96", "--input-size", "128", "--init", plugin, "--artworks", pages,
        "--boxes-from", "tiny_fcos", "--artwork-share", "1.0")
    training = json.loads((tuned / "config.json").read_text())["training"]
    assert training["starting_weights"] == f"tiny_fcos ({plugin})" and training["skipped"] == 1


def test_a_detector_config_with_an_unknown_architecture_names_the_valid_ones(cli, tmp_path):
    plugin = tmp_path / "bad_detector"
    plugin.mkdir()
    (plugin / "weights.pt").write_bytes(b"")
    (plugin / "config.json").write_text(json.dumps({"name": "bad", "architecture": "yolo9", "weights": "weights.pt"}))
    (plugin / "plugin.py").write_text(
        "from pathlib import Path\nimport reid\n\n@reid.hookimpl\ndef register_detectors(register):\n"
        "    reid.register_detector_config(register, Path(__file__).with_name('config.json'))\n")
    broken = [p for p in cli.json("--plugin-dir", plugin, "plugins") if p["error"]]
    assert len(broken) == 1 and "unknown architecture 'yolo9'; valid architectures: fcos_lite0" in broken[0]["error"]


def test_artwork_pages_keep_whole_faces_only():
    from reid.training.composites import artwork_page

    image = Image.new("RGB", (400, 300), "white")
    faces = [Box(50, 40, 150, 140), Box(250, 100, 330, 180)]
    for seed in range(40):
        cut = artwork_page(image, faces, random.Random(seed), PageStyle(size=128))
        if cut is None:
            continue
        page, boxes = cut
        assert page.size == (128, 128)
        assert all(0 <= b.left < b.right <= 128 and 0 <= b.top < b.bottom <= 128 for b in boxes)


def test_weights_that_do_not_fit_the_detector_are_one_line(cli, tmp_path):
    import torch

    plugin = tmp_path / "mismatch"
    plugin.mkdir()
    torch.save({"backbone.stem.0.weight": torch.zeros(1)}, plugin / "weights.pt")
    (plugin / "config.json").write_text(json.dumps({"name": "mismatch", "architecture": "fcos_lite0", "weights": "weights.pt"}))
    (plugin / "plugin.py").write_text(
        "from pathlib import Path\nimport reid\n\n@reid.hookimpl\ndef register_detectors(register):\n"
        "    reid.register_detector_config(register, Path(__file__).with_name('config.json'))\n")
    (tmp_path / "pages").mkdir()
    Image.new("RGB", (64, 64), "white").save(tmp_path / "pages" / "page.png")
    result = cli("--plugin-dir", plugin, "detect", tmp_path / "pages", "--detector", "mismatch", ok=False)
    assert result.exit_code == 1
    assert "does not fit mismatch" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("case, message", [
    ("missing", "folder does not exist"),
    ("empty", "needs at least two sub-folders of images"),
    ("init", "not 'imagenet', 'none' or a detector plugin directory"),
])
def test_bad_detector_training_input_is_one_line(cli, tmp_path, dataset, case, message):
    faces = {"missing": tmp_path / "nowhere", "empty": tmp_path / "empty", "init": dataset / "references"}[case]
    (tmp_path / "empty").mkdir()
    extra = ["--init", str(tmp_path / "empty")] if case == "init" else []
    result = cli("train", "detector", faces, "--out", tmp_path / "out", "--steps", "1", "--page-size", "96",
                 "--boxes-from", "none", *extra, ok=False)
    assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
