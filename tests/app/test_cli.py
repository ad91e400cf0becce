import json
import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from reid.models.encoders import DEFAULT_ENCODER
from reid.io.images import list_images

from helpers import one_error_line, snapshot


# --- similarity -------------------------------------------------------------------------

def test_similarity_same_and_different_character(cli, dataset):
    aoi = list_images(dataset / "references" / "Aoi")
    beni = list_images(dataset / "references" / "Beni")
    same, different = cli.json("similarity", aoi[0], aoi[1]), cli.json("similarity", aoi[0], beni[0])
    assert same["score"] > different["score"]
    assert same["encoder"] == DEFAULT_ENCODER and isinstance(same["same"], bool)
    assert "score" in cli("similarity", aoi[0], aoi[1]).stdout
    assert cli.json("similarity", aoi[0], aoi[0], "--threshold", "0.99")["same"] is True


def test_similarity_bad_inputs(cli, tmp_path, dataset):
    good = list_images(dataset / "references" / "Aoi")[0]
    (tmp_path / "corrupt.png").write_bytes(b"nope" * 20)
    one_error_line(cli("similarity", good, tmp_path / "corrupt.png", ok=False), tmp_path / "corrupt.png", "not an image")
    one_error_line(cli("similarity", tmp_path / "missing.png", good, ok=False), "missing.png: file not found")


# --- enroll / classify ------------------------------------------------------------------

def test_enroll_writes_index_with_label_map_then_reuses_it(cli, data):
    first = cli.json("enroll", data / "enroll.json")
    index = Path(first["index"])
    assert index == data / f"enroll.{DEFAULT_ENCODER}.faiss" and not first["reused"]
    assert first["references"] == {"Aoi": 6, "Beni": 6, "Kiiro": 6} and first["embedded"] == 18
    label_map = json.loads(Path(str(index) + ".json").read_text())
    assert label_map["characters"] == ["Aoi", "Beni", "Kiiro"] and label_map["encoder"] == DEFAULT_ENCODER
    assert cli.json("enroll", data / "enroll.json")["reused"]
    # a changed reference file invalidates the index, and only that file is embedded again
    ref = list_images(data / "references" / "Aoi")[0]
    os.utime(ref, ns=(ref.stat().st_atime_ns, ref.stat().st_mtime_ns + 10**9))
    again = cli.json("enroll", data / "enroll.json")
    assert not again["reused"] and again["embedded"] == 1 and again["calibration"] == first["calibration"]
    assert cli.json("enroll", data / "enroll.json", "--ivf", "4", "--rebuild", "--index", data / "ivf.faiss")["references"]["Kiiro"] == 6


@pytest.mark.parametrize("mode", ["Any", "Avg"])
def test_classify_sorts_targets_and_copies_without_moving(cli, data, tmp_path, mode):
    before = snapshot(data / "targets")
    out = tmp_path / "sorted"
    result = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets",
                      "--mode", mode, "--result-dir", out, "--threshold", "0.5")
    truth = json.loads((data / "targets_truth.json").read_text())
    matches = result["matches"]
    assert len(matches) == len(truth) and result["mode"] == mode
    enrolled = [m for m in matches if truth[Path(m["path"]).name] != "unknown"]
    correct = sum(m["character"] == truth[Path(m["path"]).name] for m in enrolled)
    assert correct / len(enrolled) >= 0.8
    for m in matches:
        assert m["runner_up"] not in (None, m["nearest"]) and m["runner_up_score"] <= m["score"]
        assert Path(m["copied_to"]).parent == out / m["character"]
    assert snapshot(data / "targets") == before  # originals untouched
    assert sum(len(list((out / c).iterdir())) for c in result["counts"]) == len(matches)


def test_classify_high_threshold_gives_unknown_and_table_output(cli, data):
    result = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--threshold", "0.999")
    assert set(result["counts"]) == {"unknown"}
    assert all(m["nearest"] in {"Aoi", "Beni", "Kiiro"} for m in result["matches"])
    table = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--threshold", "0.999").stdout
    # the summary comes first; the faces themselves only with --verbose
    assert table.index("character") < table.index("scored under the threshold") and "--closed-set" in table
    assert "target_000.png" not in table and "runner-up" not in table
    verbose = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--threshold", "0.999",
                  "--verbose").stdout
    assert "runner-up" in verbose and "target_000.png" in verbose
    quiet = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--threshold", "-1").stdout
    assert "scored under the threshold" not in quiet


def test_closed_set_names_every_face_and_takes_no_threshold(cli, data):
    args = ("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets")
    open_set = cli.json(*args)
    closed = cli.json(*args, "--closed-set")
    assert "unknown" in open_set["counts"] and "unknown" not in closed["counts"]
    assert [m["nearest"] for m in closed["matches"]] == [m["character"] for m in closed["matches"]]
    assert "closed set, every face named" in " ".join(cli(*args, "--closed-set").stdout.split())
    refused = cli(*args, "--closed-set", "--threshold", "0.5", ok=False)
    assert refused.exit_code == 1 and "--closed-set" in refused.stderr and refused.stderr.count("\n") == 1


def test_long_paths_are_cut_to_the_file_name_end():
    from reid.app.output import shorten

    assert shorten("a/b.png", 20) == "a/b.png"
    assert shorten("characters/season_two/episode_ten/frame_00012.png", 24) == "…/frame_00012.png"
    assert len(shorten("x" * 80, 24)) <= 24


def test_classify_second_run_into_same_folder_recognises_its_copies_and_keeps_other_files(cli, data, tmp_path):
    args = ("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--result-dir", tmp_path / "o")
    cli(*args)
    cli(*args)
    copies = [p for p in (tmp_path / "o").rglob("*") if p.is_file() and p.parent != tmp_path / "o"]
    assert len(copies) == len(list_images(data / "targets"))  # identical files are not copied again
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.is_file()) == ["classification.json", "embeddings.npy"]
    first = copies[0]
    first.write_bytes(b"the user's own file of that name")
    cli(*args)
    assert first.read_bytes() == b"the user's own file of that name"
    assert (first.parent / f"{first.stem}-1{first.suffix}").is_file()


def test_classify_skips_corrupt_targets_with_a_warning(cli, data):
    (data / "targets" / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--json")
    report = json.loads(result.stdout)
    assert [s["path"] for s in report["skipped"]] == [str(data / "targets" / "zz_broken.png")]
    assert "warning: skipped" in result.stderr and "zz_broken.png" in result.stderr
    assert len(report["matches"]) == len(list_images(data / "targets")) - 1


@pytest.mark.parametrize("content, needle", [
    ("{not json", "invalid JSON at line 1 column 2"),
    ("[1, 2]", "expected a non-empty JSON object"),
    ('{"Aoi": 3}', "must map to a folder path string"),
    ('{"Aoi": "references/Aoi", "Ghost": "nowhere"}', "character 'Ghost'"),
    ('{"unknown": "references/Aoi"}', "reserved"),
])
def test_classify_bad_enrollment_json(cli, data, content, needle):
    (data / "bad.json").write_text(content)
    result = cli("classify", "--enroll", data / "bad.json", "--target-dir", data / "targets", ok=False)
    one_error_line(result, data / "bad.json" if "Ghost" not in content else "", needle)


def test_classify_empty_and_missing_folders(cli, data, tmp_path):
    (tmp_path / "empty").mkdir()
    one_error_line(cli("classify", "--enroll", data / "enroll.json", "--target-dir", tmp_path / "empty", ok=False), "no images found")
    one_error_line(cli("classify", "--enroll", data / "enroll.json", "--target-dir", tmp_path / "gone", ok=False), "folder does not exist")
    one_error_line(cli("classify", "--enroll", tmp_path / "none.json", "--target-dir", data / "targets", ok=False), "enrollment file not found")
    (data / "references" / "Empty").mkdir()
    (data / "e.json").write_text('{"Empty": "references/Empty"}')
    one_error_line(cli("classify", "--enroll", data / "e.json", "--target-dir", data / "targets", ok=False), "character 'Empty'", "no images found")


# --- cluster ----------------------------------------------------------------------------

def test_cluster_writes_copies_contact_sheets_and_summary(cli, dataset, tmp_path):
    images = tmp_path / "mixed"
    images.mkdir()
    for path in list_images(dataset / "references", recursive=True):
        shutil.copy(path, images / f"{path.parent.name}_{path.name}")
    out = tmp_path / "clusters"
    result = cli.json("cluster", images, "--umap-dim", "0", "--min-cluster-size", "3", "--result-dir", out)
    assert result["clusters"] >= 2
    summary = json.loads((out / "clusters.json").read_text())
    assert summary["groups"] == result["groups"]
    for name, members in result["groups"].items():
        assert (out / f"{name}.png").is_file() and len(list((out / name).iterdir())) == len(members)
    overview = Image.open(out / "overview.png")  # one 64 px row of faces (plus its title) per group
    assert overview.height == len(result["groups"]) * (24 + 64)
    assert len(list_images(images)) == 18  # originals untouched
    one_error_line(cli("cluster", images, "--umap-dim", "0", "--result-dir", out, ok=False), "not empty")


@pytest.mark.parametrize("method", ["hdbscan", "dbscan", "optics", "agglomerative", "knn_graph"])
def test_every_clusterer_runs(cli, dataset, method):
    result = cli.json("cluster", dataset / "targets", "--method", method, "--umap-dim", "0", "--min-cluster-size", "2")
    assert sum(len(m) for m in result["groups"].values()) == len(list_images(dataset / "targets"))


@pytest.mark.slow
def test_cluster_with_umap_reduction(cli, dataset):
    result = cli.json("cluster", dataset / "targets", "--umap-dim", "4", "--min-cluster-size", "3")
    assert result["umap_dim"] == 4


def test_cluster_bad_inputs(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    one_error_line(cli("cluster", tmp_path / "empty", ok=False), "no images found")
    one_error_line(cli("cluster", tmp_path / "empty", "--method", "kmeans", ok=False), "unknown clusterer 'kmeans'; valid clusterers: agglomerative")


# --- evaluate ---------------------------------------------------------------------------

def test_evaluate_reports_the_field_metrics(cli, dataset):
    result = cli.json("evaluate", dataset / "references", "--runs", "2", "--umap-dim", "0", "--min-cluster-size", "3")
    assert result["images"] == 18 and result["characters"] == 3
    for key in ("top1", "eer", "f1_at_threshold", "precision_at_threshold", "recall_at_threshold"):
        assert 0.0 <= result[key] <= 1.0
    assert result["top1"] >= 0.8
    assert set(result["clustering"]) >= {"ami", "nmi", "ari"} and len(result["clustering_runs"]) == 2
    assert "AMI" in cli("evaluate", dataset / "references", "--runs", "1", "--umap-dim", "0").stdout


def test_evaluate_needs_labelled_subfolders(cli, dataset, tmp_path):
    one_error_line(cli("evaluate", dataset / "targets", ok=False), "at least two sub-folders")
    one_error_line(cli("evaluate", tmp_path / "nope", ok=False), "folder does not exist")


# --- sample data ------------------------------------------------------------------------

def test_sample_data_then_refuses_to_overwrite(cli, tmp_path):
    cli("sample-data", tmp_path / "demo", "--characters", "2", "--per-character", "2")
    assert json.loads((tmp_path / "demo" / "enroll.json").read_text()) == {"Aoi": "references/Aoi", "Beni": "references/Beni"}
    one_error_line(cli("sample-data", tmp_path / "demo", ok=False), "not empty")


def test_version_and_help(cli):
    assert cli("--version").stdout.startswith("reid ")
    assert "classify" in cli("--help").stdout


def _commands(group, path=()):
    import click

    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name)) if isinstance(command, click.Group) else [((*path, name), command)]


def test_every_help_screen_renders_and_every_option_says_what_it_does_in_a_line(cli):
    from typer.main import get_command

    from reid.app.main import app

    long = []
    for path, command in _commands(get_command(app)):
        shown = cli(*path, "--help").stdout
        assert "Usage: " in shown and "seed 00" not in shown, path
        assert "<bool>" not in shown and "<list[" not in shown, path  # a flag takes no value; a repeatable one shows one
        for option in command.params:
            if option.name != "help" and not getattr(option, "hidden", False):
                words = (getattr(option, "help", None) or "").split(" Default: ")[0]
                # one sentence, and its default: details live in docs/
                if not 0 < len(words) <= 160 or re.search(r"(?<!e\.g)\. ", words):
                    long.append((" ".join(path), option.name, words))
    assert not long, long
    assert "reid[ray]" in " ".join(cli("enroll", "--help").stdout.split())  # not eaten as markup


# --- bad input across commands -----------------------------------------------------------

def corrupt(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return path


@pytest.mark.parametrize("command", ["enroll", "cluster", "evaluate", "evaluate --gray"])
def test_corrupt_image_is_skipped_named_and_counted(cli, data, command):
    bad = corrupt(data / "references" / "Aoi" / "zz_bad.png")
    args = {"enroll": ("enroll", data / "enroll.json"),
            "cluster": ("cluster", data / "references" / "Aoi", "--umap-dim", "0", "--min-cluster-size", "2"),
            "evaluate": ("evaluate", data / "references", "--runs", "1", "--umap-dim", "0"),
            "evaluate --gray": ("evaluate", data / "references", "--runs", "1", "--umap-dim", "0", "--gray")}[command]
    result = cli(*args, "--json")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 1 and str(bad) in warnings[0] and "corrupt" in warnings[0]
    report = json.loads(result.stdout)
    assert report["skipped"] == 1 if command == "enroll" else [s["path"] for s in report["skipped"]] == [str(bad)]


def test_enroll_wrong_paths_and_unreadable_character(cli, data, tmp_path):
    one_error_line(cli("enroll", tmp_path / "none.json", ok=False), "enrollment file not found")
    one_error_line(cli("enroll", data, ok=False), "is a folder; pass the enrollment file")
    (data / "references" / "Empty").mkdir()
    (data / "e.json").write_text('{"Empty": "references/Empty"}')
    one_error_line(cli("enroll", data / "e.json", ok=False), "character 'Empty'", "no images found")
    (data / "references" / "Broken").mkdir()
    corrupt(data / "references" / "Broken" / "only.png")
    (data / "b.json").write_text('{"Broken": "references/Broken", "Aoi": "references/Aoi"}')
    one_error_line(cli("enroll", data / "b.json", ok=False), "no usable reference image for Broken",
                   data / "references" / "Broken" / "only.png", "corrupt")


def test_cluster_wrong_path(cli, tmp_path):
    one_error_line(cli("cluster", tmp_path / "gone", ok=False), "folder does not exist")
    (tmp_path / "file.png").write_bytes(b"x")
    one_error_line(cli("cluster", tmp_path / "file.png", ok=False), "is a file, not a folder")


def test_character_selection_that_leaves_too_few_characters_is_one_error_line(cli, data, tmp_path):
    one_error_line(cli("evaluate", data / "references" / "Z*", ok=False), "matching 'Z*'", "found 0")
    one_error_line(cli("evaluate", tmp_path / "gone" / "A*", ok=False), "folder does not exist")
    one_error_line(cli("train", "metric", data / "references", "--out", tmp_path / "out", "--exclude", "*", ok=False),
                   "(excluding *)", "found 0")


def test_option_groups_become_options_and_reach_the_command_as_one_value():
    import typer
    from typer.testing import CliRunner

    from reid.app.options import DetectorOptions, VideoOptions, grouped

    seen = {}

    @grouped
    def command(folder: str, faces: DetectorOptions = None, video: VideoOptions = None) -> None:
        seen.update(faces=faces, sampling=video.sampling())

    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, ["here", "--detector", "whole", "--margin", "0.2", "--scenes"])
    assert result.exit_code == 0, result.output
    assert seen["faces"] == DetectorOptions(detector="whole", margin=0.2)
    assert seen["sampling"].scenes and seen["sampling"].every is None  # --scenes alone: a frame per shot only

    def twice(faces: DetectorOptions = None, margin: float = 0.0) -> None:
        pass

    with pytest.raises(TypeError, match="margin"):
        grouped(twice)
