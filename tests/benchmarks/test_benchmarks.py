"""The benchmark scripts run on drawn data (their numbers are printed, never asserted as targets)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs each benchmark script once; `pytest --slow` (CI) runs them

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run(script: str, *args) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "REID_DEVICE": "cpu"}, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_detect_table_scores_drawn_composites(tmp_path):
    out = run("detect_table.py", "--pages", 4, "--json", tmp_path / "d.json")
    report = json.loads((tmp_path / "d.json").read_text())
    assert "| drawn |" in out and 0 <= report["animeface"]["recall"] <= 1 and report["animeface"]["faces"] >= 4
    assert "| drawn |" in run("detect_table.py", "--pages", 2, "--gray")


def test_detect_table_scores_illustrations_with_true_boxes(tmp_path):
    import random

    from PIL import Image

    from reid.io.synthetic import CHARACTERS, draw_character

    folder = tmp_path / "art" / "Aoi"
    folder.mkdir(parents=True)
    page = Image.new("RGB", (320, 240), "white")
    page.paste(draw_character(CHARACTERS[0], random.Random(0), 128), (100, 60))
    page.save(folder / "page.png")
    (tmp_path / "boxes.json").write_text(json.dumps({"Aoi/page.png": [[120, 80, 210, 170]]}))
    out = run("detect_table.py", "--artworks", tmp_path / "art", "--boxes", tmp_path / "boxes.json",
              "--json", tmp_path / "d.json")
    report = json.loads((tmp_path / "d.json").read_text())["animeface"]
    assert "1 illustrations, 1 faces" in out and report["groups"]["Aoi"]["faces"] == 1


def test_classify_table_measures_every_mode_on_drawn_characters(tmp_path):
    out = run("classify_table.py", "--k", 3, "--open-k", 3, "--repeats", 1, "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())[0]
    assert "open set" in out and {"Any", "Avg", "Head"} <= set(report["closed"][0])
    assert [row["mode"] for row in report["open"]] == ["Any", "Avg", "Head"]


def test_adapt_table_compares_adapting_with_the_frozen_head(tmp_path):
    out = run("adapt_table.py", "--refs", 3, "--splits", 1, "--steps", 3, "--json", tmp_path / "a.json")
    rows = json.loads((tmp_path / "a.json").read_text())
    assert [row["setting"].split()[0] for row in rows] == ["frozen", "last_block", "last_block"] and "| 3 |" in out
    assert {"closed", "open", "strangers"} <= set(rows[1]["Head"]) and isinstance(rows[2]["kept"], bool)
    assert rows[2]["Head"] == rows[1 if rows[2]["kept"] else 0]["Head"]


def test_startup_times_the_cli(tmp_path):
    out = run("startup.py", "--repeat", 1, "--json", tmp_path / "s.json")
    report = json.loads((tmp_path / "s.json").read_text())
    assert "| `reid --help` |" in out and report["reid plugins"]["median_s"] > 0 and report["reid similarity A B"]["median_s"] > 0


def test_pair_sampling_compares_every_pair_with_a_sample():
    out = run("pair_sampling.py", "--sizes", 300, "--characters", 20, "--dim", 16, "--max-pairs", 5000)
    assert "| 300 | 44,850 | every pair | 44,850 |" in out and "| 300 | 44,850 | sampled | 5,000 |" in out


def test_review_open_times_a_drawn_result(tmp_path):
    out = run("review_open.py", "--faces", 60, "--groups", 5, "--actions", 4, "--no-browser", "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert "| overview_s |" in out and report["overview_thumbs"] > 0 and report["replay_s"] > 0


def test_video_speed_times_each_stage(tmp_path):
    out = run("video_speed.py", "--seconds", 3, "--fps", 10, "--width", 320, "--json", tmp_path / "v.json")
    report = json.loads((tmp_path / "v.json").read_text())
    assert "| detect_s |" in out and report["sampled_frames"] == 3 and report["end_to_end_s"] > 0


def test_inference_backends_compares_side_by_side(tmp_path):
    out = run("inference_backends.py", "--images", 8, "--repeat", 1, "--json", tmp_path / "i.json")
    report = json.loads((tmp_path / "i.json").read_text())
    assert "| eager torch (before) | 32 |" in out and report["ceiling_images_per_s"] > 0
    assert "eager torch, serial decoding (before)" in report["pipeline_images_per_s"]


def test_cluster_scale_measures_each_method_in_its_own_process(tmp_path):
    out = run("cluster_scale.py", "--sizes", 400, "--per-character", 20, "--json", tmp_path / "c.json")
    rows = json.loads((tmp_path / "c.json").read_text())
    assert [r["method"] for r in rows] == ["umap32 + hdbscan (default)", "knn_graph"] and "| 400 |" in out
    assert all(r["peak_mb"] > 0 and 0 <= r["ami"] <= 1 for r in rows)


def test_speed_table_prints_each_target_beside_its_anchor(tmp_path):
    out = run("speed_table.py", "--images", 16, "--pages", 1, "--references", 2000, "--json", tmp_path / "s.json")
    report = json.loads((tmp_path / "s.json").read_text())
    assert "FLOP ceiling" in out and "faiss IndexFlatIP.add" in out and "animeface" in out
    assert report["pipeline_torch_images_per_s"] > 0 and report["index_build_s"] > 0
