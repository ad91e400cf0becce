"""What a new user trips over (issue 16): folders of folders, BOMs, shared folders, tiny references, hints."""

import json
from pathlib import Path

import pytest
from PIL import Image

from helpers import one_error_line


def test_an_enrollment_json_with_a_byte_order_mark_is_read(cli, data):
    text = (data / "enroll.json").read_text()
    (data / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert set(cli.json("enroll", data / "bom.json")["references"]) == {"Aoi", "Beni", "Kiiro"}


def test_two_characters_with_one_folder_or_one_result_folder_are_refused(cli, data):
    (data / "same.json").write_text(json.dumps({"Aoi": "references/Aoi", "Aoi again": "references/Aoi/"}))
    one_error_line(cli("enroll", data / "same.json", ok=False), "'Aoi' and 'Aoi again' both point at", "its own folder")
    (data / "clash.json").write_text(json.dumps({"A/B": "references/Aoi", "a:b": "references/Beni"}))
    one_error_line(cli("enroll", data / "clash.json", ok=False), "would share the result folder", "rename one")


def test_a_tiny_reference_is_named_in_a_warning(cli, data):
    Image.new("RGB", (1, 1), (40, 90, 200)).save(data / "references" / "Aoi" / "dot.png")
    result = cli("enroll", data / "enroll.json", "--json")
    assert json.loads(result.stdout)["small"] == [[str(data / "references" / "Aoi" / "dot.png"), 1, 1]]
    assert "dot.png: reference is only 1x1 pixels" in result.stderr
    again = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "-m", "Any", "--json")
    assert "dot.png: reference is only 1x1 pixels" in again.stderr  # said again when the index is reused


def test_cluster_reads_a_folder_of_folders_and_keeps_the_sub_folders(cli, dataset, tmp_path):
    out = cli.json("cluster", dataset / "references", "--umap-dim", "0", "--method", "agglomerative",
                   "--min-cluster-size", "2", "--result-dir", tmp_path / "clusters")
    paths = [Path(p) for members in out["groups"].values() for p in members]
    assert len(paths) == 18  # 3 characters x 6, each in its own sub-folder
    copies = [p for p in (tmp_path / "clusters").rglob("*.png") if p.parent != tmp_path / "clusters"]
    assert {p.parent.name for p in copies} == {"Aoi", "Beni", "Kiiro"}


def test_the_no_face_hint_names_the_detectors_own_knob(cli, data, tmp_path):
    pytest.importorskip("animeface")
    folder = tmp_path / "blank"
    folder.mkdir()
    Image.new("RGB", (200, 200), "white").save(folder / "blank.png")
    result = cli("classify", "--enroll", data / "enroll.json", "--target-dir", folder, "--detector", "animeface",
                 "-m", "Any", "--json")
    assert "--min-face 24" in result.stderr and "--min-neighbors" not in result.stderr


def test_cluster_stages_after_embedding_each_get_a_labelled_step():
    import numpy as np

    from reid.models.clustering import cluster_vectors

    class Recorder:
        def __init__(self):
            self.stages = []

        def start(self, total, description):
            self.stages.append(description)

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    progress = Recorder()
    cluster_vectors(vectors, method="agglomerative", umap_dim=4, min_cluster_size=2, progress=progress)
    assert [s.split()[0] for s in progress.stages] == ["reducing", "clustering"] and "UMAP" in progress.stages[0]


def test_cluster_sheets_sample_from_the_most_typical_face_to_the_strays_and_say_the_purity(cli, dataset, tmp_path):
    import numpy as np

    from reid.jobs.cluster import FolderClusters
    from reid.models.clustering import Clustering

    vectors = np.eye(4, dtype=np.float32)[[0] * 9 + [1]] + 0.01 * np.arange(10)[:, None]
    found = FolderClusters([Path(f"{i}.png") for i in range(10)], Clustering(np.zeros(10, int), "x", 0), vectors=vectors)
    shown = found.sample(list(range(10)), 4)
    assert len(shown) == 4 and shown[-1] == 9  # the stray is shown, not hidden behind the first files
    out = cli.json("cluster", dataset / "references", "--umap-dim", "0", "--method", "agglomerative",
                   "--min-cluster-size", "2", "--result-dir", tmp_path / "c")
    composition = json.loads((tmp_path / "c" / "clusters.json").read_text())["composition"]
    assert set(composition) == set(out["groups"])
    assert sum(sum(c.values()) for c in composition.values()) == 18


def test_git_ignores_every_file_enrollment_writes_beside_an_enrollment(tmp_path):
    """After the quick start (or any enroll of reference_sets/*.json) `git status` stays clean."""
    import shutil
    import subprocess

    from reid.search import enrollment_files as files

    root = Path(__file__).resolve().parents[2]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    index = files.default_index_path(root / "reference_sets" / "demo.json", "charfaces_lite0")
    written = [index, files.label_map_path(index), files.columns_path(index), files.head_path_for(index),
               files.cache_path_for(index), files.shards_path_for(index) / "part-0.parquet",
               files.default_index_path(root / "reference_sets" / "demo.json", "charfaces_lite0", body=True)]
    done = subprocess.run(["git", "check-ignore", "--no-index", *map(str, written)], cwd=root, capture_output=True, text=True)
    assert sorted(done.stdout.split()) == sorted(map(str, written))


def test_cluster_shows_each_clusters_largest_folder_and_flags_one_far_larger(cli, dataset):
    from reid.jobs.cluster import oversized

    shown = " ".join(cli("cluster", dataset / "references", "--min-cluster-size", "2").stdout.split())
    assert "largest folder" in shown and "100% Aoi" in shown
    members = {"cluster_00": list(range(60)), "cluster_01": list(range(8)), "cluster_02": list(range(7)),
               "cluster_03": list(range(6)), "noise": list(range(3))}
    assert oversized(members) == ["cluster_00"]
    assert oversized({**members, "cluster_00": list(range(12))}) == []
