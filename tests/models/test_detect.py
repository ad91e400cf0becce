"""Detectors and the whole-illustration pipeline on generated multi-face pictures: drawn characters
pasted side by side on a white page, found by a tiny test detector (white gaps separate faces)."""

import json
import shutil
import os
import random
from pathlib import Path

import pytest
from PIL import Image

from helpers import write_plugin
from reid.models.detectors.base import Box
from reid.io.synthetic import CHARACTERS, draw_character

GAP_DETECTOR_PLUGIN = '''
import numpy as np
import reid
from reid.models.detectors.base import Box, Detector


class Gaps(Detector):
    """Faces are the non-white blocks between all-white columns."""

    name = "gaps"

    def detect(self, image):
        ink = (np.asarray(image.convert("RGB")) < 250).any(axis=2)
        columns = ink.any(axis=0)
        boxes, start = [], None
        for x, on in enumerate(list(columns) + [False]):
            if on and start is None:
                start = x
            elif not on and start is not None:
                rows = np.flatnonzero(ink[:, start:x].any(axis=1))
                boxes.append(Box(start, int(rows[0]), x, int(rows[-1]) + 1))
                start = None
        return boxes


@reid.hookimpl
def register_detectors(register):
    register("gaps", Gaps, description="blocks between white columns (tests)")
'''
CASCADE = os.environ.get("REID_CASCADE") or str(Path(__file__).resolve().parents[3] / "shared/data/lbpcascade_animeface.xml")
BY_NAME = {c.name: c for c in CHARACTERS}


def page(path: Path, names: list[str], seed: int) -> Path:
    """A white page with one drawn face per name, 16 px apart."""
    rng = random.Random(seed)
    canvas = Image.new("RGB", (16 + 80 * len(names), 96), "white")
    for i, name in enumerate(names):
        canvas.paste(draw_character(BY_NAME[name], rng, 64), (16 + 80 * i, 16))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


@pytest.fixture
def pages(tmp_path):
    """pages/: two two-face pages, two one-face pages, one empty page; plus the gap detector plugin."""
    folder = tmp_path / "pages"
    page(folder / "aoi_beni.png", ["Aoi", "Beni"], 10)
    page(folder / "beni_kiiro.png", ["Beni", "Kiiro"], 11)
    page(folder / "aoi.png", ["Aoi"], 12)
    page(folder / "kiiro.png", ["Kiiro"], 13)
    page(folder / "empty.png", [], 14)
    return folder, write_plugin(tmp_path / "gaps_plugin", GAP_DETECTOR_PLUGIN)


def test_box_margin_grows_the_box_and_stays_inside_the_image():
    assert Box(10, 10, 30, 50).with_margin(0.25, 100, 100) == Box(5, 0, 35, 60)
    assert Box(0, 0, 40, 40).with_margin(0.5, 50, 50) == Box(0, 0, 50, 50)


def test_classify_gives_one_entry_per_face_and_reports_faceless_images(cli, data, pages, tmp_path):
    folder, plugin = pages
    result = cli("--plugin-dir", plugin, "classify", "--enroll", data / "enroll.json", "--target-dir", folder,
                 "--detector", "gaps", "--result-dir", tmp_path / "sorted", "--no-face", "skip", "--json")
    out = json.loads(result.stdout)
    by_image = {}
    for match in out["matches"]:
        by_image.setdefault(Path(match["path"]).name, []).append(match)
    assert {name: len(m) for name, m in by_image.items()} == {"aoi_beni.png": 2, "beni_kiiro.png": 2, "aoi.png": 1, "kiiro.png": 1}
    assert all(len(m["box"]) == 4 for m in out["matches"])
    assert [match["character"] for match in by_image["aoi_beni.png"]] == ["Aoi", "Beni"]  # left to right
    assert out["no_face"] == [str(folder / "empty.png")]
    assert "no face found in" in result.stderr and "empty.png" in result.stderr
    # a page with two characters is copied into both folders, once each; the originals stay
    assert (tmp_path / "sorted" / "Aoi" / "aoi_beni.png").is_file() and (tmp_path / "sorted" / "Beni" / "aoi_beni.png").is_file()
    assert (folder / "aoi_beni.png").is_file()


def test_classify_embeds_a_faceless_image_whole_by_default_and_says_so(cli, data, pages):
    folder, plugin = pages
    result = cli("--plugin-dir", plugin, "classify", "--enroll", data / "enroll.json", "--target-dir", folder,
                 "--detector", "gaps", "--json")
    out = json.loads(result.stdout)
    whole = [m for m in out["matches"] if m["whole_image"]]
    assert out["no_face_policy"] == "whole" and out["no_face"] == [str(folder / "empty.png")]
    assert [m["relative_path"] for m in whole] == ["empty.png"] and whole[0]["box"] is None
    assert len(out["matches"]) == 7 and "the whole image was used instead" in result.stderr


def test_similarity_with_a_detector_compares_the_best_pair_of_faces(cli, pages):
    folder, plugin = pages
    result = cli.json("--plugin-dir", plugin, "similarity", folder / "beni_kiiro.png", folder / "kiiro.png", "--detector", "gaps")
    assert (result["faces_a"], result["faces_b"]) == (2, 1)
    assert result["box_a"][0] > 80  # the right-hand face, Kiiro, matched the single Kiiro
    empty = cli("--plugin-dir", plugin, "similarity", folder / "empty.png", folder / "kiiro.png", "--detector", "gaps",
                "--no-face", "skip", ok=False)
    assert empty.exit_code == 1 and "empty.png: gaps found no face" in empty.stderr and "--no-face whole" in empty.stderr
    whole = cli.json("--plugin-dir", plugin, "similarity", folder / "empty.png", folder / "kiiro.png", "--detector", "gaps")
    assert whole["whole_a"] and not whole["whole_b"] and whole["box_a"] is None and whole["no_face_policy"] == "whole"


def test_cluster_with_a_detector_writes_face_crops(cli, pages, tmp_path):
    folder, plugin = pages
    out = cli.json("--plugin-dir", plugin, "cluster", folder, "--detector", "gaps", "--min-cluster-size", "2",
                   "--umap-dim", "0", "--method", "agglomerative", "--result-dir", tmp_path / "clusters")
    entries = [e for members in out["groups"].values() for e in members]
    assert len(entries) == 6 and all(set(e) == {"path", "box"} for e in entries)
    crops = sorted((tmp_path / "clusters").rglob("*_face*.png"))
    assert len(crops) == 6 and all(Image.open(c).size[0] < 96 for c in crops)  # faces, not whole pages
    assert out["no_face"] == [str(folder / "empty.png")]


def test_detect_drops_boxes_under_min_score_and_counts_them(cli, pages):
    folder, plugin = pages
    kept = cli.json("--plugin-dir", plugin, "detect", folder, "--detector", "gaps", "--min-score", "0.5")
    dropped = cli.json("--plugin-dir", plugin, "detect", folder, "--detector", "gaps", "--min-score", "1.5")
    assert (kept["faces"], kept["below_min_score"]) == (6, 0)
    assert (dropped["faces"], dropped["below_min_score"], dropped["min_score"]) == (0, 6, 1.5)
    assert "dropped under --min-score 1.5" in " ".join(
        cli("--plugin-dir", plugin, "detect", folder, "--detector", "gaps", "--min-score", "1.5").stdout.split())


def test_detect_writes_crops_and_boxes(cli, pages, tmp_path):
    folder, plugin = pages
    out = cli.json("--plugin-dir", plugin, "detect", folder, "--detector", "gaps", "--out", tmp_path / "faces")
    assert (out["images"], out["with_face"], out["faces"]) == (5, 4, 6) and out["detection_rate"] == 0.8
    written = json.loads((tmp_path / "faces" / "detections.json").read_text())
    assert written["boxes"][str(folder / "aoi_beni.png")] == [[16, 16, 80, 80], [96, 16, 160, 80]]
    assert len(list((tmp_path / "faces").glob("*_face*.png"))) == 6
    assert written["crops"]["aoi_beni_face1.png"] == {"source": str(folder / "aoi_beni.png"), "box": [96, 16, 160, 80],
                                                      "score": 1.0}
    assert written["scores"][str(folder / "aoi_beni.png")] == [1.0, 1.0]  # every box carries its score
    again = cli("--plugin-dir", plugin, "detect", folder, "--detector", "gaps", "--out", tmp_path / "faces", ok=False)
    assert again.exit_code == 1 and "not empty" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--detector", "lbp_cascade", "--cascade", "missing.xml"], "missing.xml: cascade file not found"),
    (["--cascade", "x.xml"], "--cascade needs --detector"),
    (["--detector", "whole", "--min-neighbors", "2"], "detector 'whole' takes no --min-neighbors"),
    (["--detector", "faces3000"], "unknown detector 'faces3000'; valid detectors: animeface, charfaces_fcos, lbp_cascade, whole"),
])
def test_bad_detector_options_fail_with_one_line(cli, dataset, args, message, monkeypatch):
    monkeypatch.delenv("REID_CASCADE", raising=False)
    a = dataset / "targets"
    result = cli("cluster", a, *args, ok=False)
    assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_a_file_that_is_not_a_cascade_is_refused(cli, dataset, tmp_path):
    bogus = tmp_path / "bogus.xml"
    bogus.write_text("<opencv_storage></opencv_storage>")
    result = cli("detect", dataset / "targets", "--detector", "lbp_cascade", "--cascade", bogus, ok=False)
    assert result.exit_code == 1 and "not an OpenCV cascade file" in result.stderr


@pytest.mark.skipif(not Path(CASCADE).is_file(), reason="no cascade file: set REID_CASCADE to lbpcascade_animeface.xml")
def test_lbp_cascade_runs_on_generated_pages(cli, pages):
    folder, _ = pages
    out = cli.json("detect", folder, "--detector", "lbp_cascade", "--cascade", CASCADE, "--min-neighbors", "1")
    assert out["images"] == 5 and out["no_face"]  # drawn circles are not anime faces to it; the empty page never is


@pytest.mark.parametrize("command", [
    ["detect", "{dir}", "--detector", "whole"],
    ["visualize", "{dir}", "--out", "{tmp}/map.png"],
    ["train", "metric", "{dir}", "--out", "{tmp}/model", "--epochs", "1", "--batch-size", "8", "--input-size", "32"],
])
@pytest.mark.parametrize("case", ["missing", "empty"])
def test_new_commands_refuse_missing_and_empty_folders_with_one_line(cli, tmp_path, command, case):
    folder = tmp_path / case
    if case == "empty":
        folder.mkdir()
    args = [a.format(dir=folder, tmp=tmp_path) for a in command]
    result = cli(*args, ok=False)
    assert result.exit_code == 1 and str(folder) in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_new_commands_skip_a_corrupt_image_with_a_warning(cli, data, tmp_path):
    bad = data / "references" / "Aoi" / "zz_corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    detected = cli("detect", data / "references", "--detector", "whole", "--json")
    assert json.loads(detected.stdout)["skipped"][0]["path"] == str(bad) and "zz_corrupt.png" in detected.stderr
    mapped = cli("visualize", data / "references", "--out", tmp_path / "map.png", "--umap-dim", "0")
    assert "skipped" in mapped.stderr and "zz_corrupt.png" in mapped.stderr
    trained = cli("train", "metric", data / "references", "--out", tmp_path / "model", "--epochs", "1",
                  "--batch-size", "8", "--input-size", "32", "--json")
    assert "zz_corrupt.png" in trained.stderr and json.loads(trained.stdout)["config"]["training"]["skipped"] == 1


def test_visualize_with_a_detector_maps_faces_not_pages(cli, tmp_path):
    folder = tmp_path / "pages"
    names = ["Aoi", "Beni", "Kiiro"]
    for i in range(6):
        page(folder / f"page{i}.png", [names[i % 3], names[(i + 1) % 3]], 20 + i)
    page(folder / "empty.png", [], 30)
    plugin = write_plugin(tmp_path / "gaps_plugin", GAP_DETECTOR_PLUGIN)
    out = cli.json("--plugin-dir", plugin, "visualize", folder, "--out", tmp_path / "map.png", "--detector", "gaps",
                   "--thumbnails", "--umap-dim", "0", "--min-cluster-size", "2")
    assert out["images"] == 12 and out["no_face"] == [str(folder / "empty.png")]
    assert Image.open(tmp_path / "map.png").size[0] > 0


def test_detect_keeps_the_folder_tree_and_names_crops_after_their_source(cli, pages, tmp_path):
    folder, plugin = pages
    tree = tmp_path / "tree"
    for volume in ("vol1", "vol2"):  # the same file names in two folders
        shutil.copytree(folder, tree / volume)
    shutil.copy(folder / "aoi.png", tree / "vol1" / "aoi.jpg")  # a.png beside a.jpg
    out = cli.json("--plugin-dir", plugin, "detect", tree, "--detector", "gaps", "--out", tmp_path / "faces")
    crops = json.loads((tmp_path / "faces" / "detections.json").read_text())["crops"]
    assert {"vol1/aoi_beni_face0.png", "vol2/aoi_beni_face0.png", "vol1/aoi_png_face0.png", "vol1/aoi_jpg_face0.png"} <= set(crops)
    assert crops["vol2/kiiro_face0.png"]["source"] == str(tree / "vol2" / "kiiro.png")
    assert all((tmp_path / "faces" / name).is_file() for name in crops) and len(crops) == out["faces"]


def test_the_shipped_learned_detector_finds_drawn_faces_at_their_places(cli, tmp_path):
    # charfaces_fcos never saw these drawings: made-up characters pasted at known places on a plain page
    rng = random.Random(3)
    folder = tmp_path / "pages"
    folder.mkdir()
    truth = {}
    for i in range(3):
        page = Image.new("RGB", (480, 360), (230, 236, 245))
        places = [(30 + 230 * k, 60 + 40 * k) for k in range(2)]
        for x, y in places:
            page.paste(draw_character(rng.choice(CHARACTERS), rng, 160), (x, y))
        page.save(folder / f"page{i}.png")
        truth[f"page{i}.png"] = places
    found = cli.json("detect", folder)  # the default detector
    assert found["detector"] == "charfaces_fcos" and found["faces"] == 6
    for path, boxes in found["boxes"].items():
        for x, y in truth[Path(path).name]:
            assert any(x <= (l + r) / 2 <= x + 160 and y <= (t + b) / 2 <= y + 160 for l, t, r, b in boxes)
