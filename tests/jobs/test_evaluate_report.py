"""reid evaluate --report: one self-contained HTML file."""

import json
import re

import pytest

from reid.jobs.evaluate import evaluate
from reid.models.encoders import load_encoder
from reid.jobs.evaluate_report import histogram_svg


@pytest.fixture
def lookalikes(tmp_path, draw):
    """Three labels, two of them the same drawn character: nearest neighbours must cross between those two."""
    folder = tmp_path / "labelled"
    for k, (label, character) in enumerate((("Aoi", "Aoi"), ("A<i>", "Aoi"), ("Beni", "Beni"))):
        for i in range(5):
            draw(character, folder / label / f"{i}.png", seed=10 * k + i)
    return folder


def test_report_has_metrics_recall_confused_faces_and_histogram(cli, lookalikes, tmp_path):
    report = tmp_path / "out" / "report.html"
    out = cli.json("evaluate", lookalikes, "--encoder", "color_texture", "--runs", "1", "--umap-dim", "0",
                   "--min-cluster-size", "3", "--report", report)
    html = report.read_text()
    assert out["report"] == str(report) and html.startswith("<!doctype html>")
    for section in ("Metrics", "Verification scores", "Per-character recall", "Worst-confused pairs", "Confusion of nearest neighbours"):
        assert f"<h2>{section}</h2>" in html
    assert "top-1 (leave-one-out)" in html and f"threshold {out['threshold']:.3f}" in html and "<svg" in html
    assert "data:image/jpeg;base64," in html  # the confused faces are embedded, not linked
    assert "A&lt;i&gt;" in html and "<i>" not in html  # folder names are text, never markup
    # the two labels of one character are the worst pair, and the recalls show it
    assert {out["confused_pairs"][0]["a"], out["confused_pairs"][0]["b"]} == {"A<i>", "Aoi"}
    recall = {name: stats["top1_recall"] for name, stats in out["per_character"].items()}
    assert recall["Beni"] > max(recall["Aoi"], recall["A<i>"]), recall
    assert sum(c["faces"] for c in out["per_character"].values()) == out["images"] == 15
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # nothing half-written beside it


def test_report_shows_faces_cut_by_a_detector(lookalikes, tmp_path):
    from reid.models.detectors import load_detector
    from reid.jobs.evaluate_report import write_report

    result = evaluate(lookalikes, load_encoder("color_texture"), runs=1, umap_dim=0, min_cluster_size=3,
                      detector=load_detector("whole"))
    html = write_report(result, tmp_path / "r.html").read_text()
    assert "detector whole: 15 faces" in html and re.search(r"\d\.png \[0, 0, 64, 64\]", html)


def test_report_path_that_cannot_be_written_fails_before_the_work(cli, lookalikes, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("evaluate", lookalikes, "--report", blocker / "report.html", ok=False)
    assert result.exit_code == 1 and "cannot create its folder" in result.stderr and result.stderr.count("\n") == 1


def test_histogram_marks_a_threshold_outside_the_scores():
    svg = histogram_svg({"edges": [0.5, 0.75, 1.0], "same": [0, 3], "different": [4, 1]}, threshold=0.2, eer_threshold=0.74)
    assert "threshold 0.200" in svg and "EER point 0.740" in svg
    assert 'x1="50.0"' in svg  # the threshold sits at the axis' left end: the axis was stretched to include it
    assert "same character (3 pairs)" in svg and "different characters (5 pairs)" in svg


def test_evaluate_json_lists_per_character_recall_and_histogram(cli, dataset):
    out = json.loads(cli("evaluate", dataset / "references", "--runs", "1", "--umap-dim", "0", "--json").stdout)
    histogram = out["score_histogram"]
    assert len(histogram["edges"]) == len(histogram["same"]) + 1
    assert sum(histogram["same"]) + sum(histogram["different"]) == 18 * 17 // 2
    assert set(out["per_character"]) == {"Aoi", "Beni", "Kiiro"}


def test_report_lists_the_images_it_could_not_evaluate(cli, lookalikes, tmp_path):
    bad = lookalikes / "Beni" / "zz_bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    result = cli("evaluate", lookalikes, "--encoder", "color_texture", "--runs", "1", "--umap-dim", "0",
                 "--report", tmp_path / "r.html")
    assert "zz_bad.png" in result.stderr
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Not evaluated (1)</h2>" in html and str(bad) in html


def test_labels_never_sit_on_the_lines_or_under_the_wrong_bars():
    svg = histogram_svg({"edges": [0.0, 0.5, 1.0], "same": [0, 3], "different": [5, 0]}, 0.62, 0.60)
    heights = {text: int(y) for y, text in re.findall(r'<text x="[\d.]+" y="(\d+)">([^<]+)</text>', svg)}
    # threshold, EER point and both kinds of pairs are named in one row above the plot (which starts at y=44)
    for name in ("threshold 0.620", "EER point 0.600", "same character (3 pairs)", "different characters (5 pairs)"):
        assert heights[name] < 44, (name, heights)


def test_the_confusion_matrix_is_numbered_so_long_names_do_not_widen_it(cli, lookalikes, tmp_path):
    report = tmp_path / "report.html"
    cli("evaluate", lookalikes, "--runs", "1", "--report", report)
    html = report.read_text()
    matrix = html[html.index('<table class="matrix">'):]
    assert '<div class="scroll"><table class="matrix">' in html and "<th title=" in matrix and ">1. " in matrix
