"""Cluster post-processing (centroid merging, minimum size) and DBSCAN's automatic eps."""

import numpy as np

from reid.models.clusterers.base import DBSCANClusterer, k_distance_eps
from reid.models.clustering import NOISE, merge_close_clusters, relabel_by_size


def blobs(centres, n=12, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    points = np.vstack([np.asarray(c) + rng.normal(scale=spread, size=(n, len(c))) for c in centres])
    return points, np.repeat(np.arange(len(centres)), n)


def test_dbscan_reads_eps_off_the_k_distance_curve():
    X, truth = blobs([(0, 0), (3, 0), (0, 3)])
    eps = k_distance_eps(X, 4)
    assert 0.02 < eps < 1.0  # above the spread of a blob, far below the distance between blobs
    clusterer = DBSCANClusterer(min_cluster_size=4).fit(X)
    assert clusterer.eps_ == eps and len(set(clusterer.labels_) - {NOISE}) == 3
    for c in range(3):  # each blob is one cluster
        assert len(set(clusterer.labels_[truth == c]) - {NOISE}) == 1


def test_close_clusters_merge_and_far_ones_stay_apart():
    X, truth = blobs([(1, 0.05), (1, -0.05), (0, 1)], n=5)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    merged = merge_close_clusters(X, truth, threshold=0.9)
    assert merged[0] == merged[5] != merged[10]  # the two blobs along x are one character
    assert len(set(merge_close_clusters(X, truth, threshold=1.01))) == 3  # nothing is that alike


def test_merging_happens_before_small_clusters_are_dropped():
    X, truth = blobs([(1, 0.03), (1, -0.03), (0, 1)], n=4, spread=0.01)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    assert set(relabel_by_size(truth, 5)) == {NOISE}  # three clusters of 4, all under the minimum size
    merged = relabel_by_size(merge_close_clusters(X, truth, 0.9), 5)
    assert (merged[:8] == 0).all() and (merged[8:] == NOISE).all()  # the merged pair (8) survives


def test_cluster_command_takes_merge_threshold_and_min_csize(cli, dataset):
    out = cli.json("cluster", dataset / "targets", "--method", "dbscan", "--merge-threshold", "-1", "--min-csize", "2")
    assert out["clusters"] == 1  # a threshold of -1 merges everything
    options = ["--runs", "1", "--umap-dim", "0", "--method", "hdbscan"]
    apart = cli.json("evaluate", dataset / "references", *options)["clustering"]
    merged = cli.json("evaluate", dataset / "references", *options, "--merge-threshold", "-1")["clustering"]
    assert apart["clusters"]["mean"] > 1 and merged["clusters"]["mean"] == 1  # merging reaches evaluate


def test_visualize_draws_clusters_and_true_characters(cli, dataset, tmp_path):
    from PIL import Image

    from reid.jobs.visualize import PANEL

    labelled = cli.json("visualize", dataset / "references", "--out", tmp_path / "map.png", "--thumbnails",
                        "--umap-dim", "0", "--min-cluster-size", "3")
    assert labelled["labelled"] and labelled["images"] == 18
    assert Image.open(tmp_path / "map.png").width == 2 * PANEL  # clusters beside true characters
    flat = cli.json("visualize", dataset / "targets", "--out", tmp_path / "flat.png")
    assert not flat["labelled"] and Image.open(tmp_path / "flat.png").width == PANEL
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted((dataset / "references" / "Aoi").iterdir())[:3]:
        (few / path.name).write_bytes(path.read_bytes())
    result = cli("visualize", few, "--out", tmp_path / "few.png", ok=False)
    assert result.exit_code == 1 and "needs at least 10 readable images" in result.stderr


def test_knn_graph_finds_separated_characters_and_leaves_strays():
    import numpy as np

    from reid.models.clustering import cluster_vectors

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 64))
    faces = np.vstack([c + rng.normal(scale=0.3, size=(30, 64)) for c in centres] + [rng.normal(size=(6, 64))])
    result = cluster_vectors(faces, method="knn_graph", umap_dim=0, min_cluster_size=5)
    truth = np.repeat(np.arange(5), 30)
    assert result.n_clusters == 5
    for c in range(5):  # each character is one cluster, whole
        assert len(set(result.labels[:150][truth == c])) == 1
    assert (result.labels[150:] == -1).all()  # random strays join nobody
