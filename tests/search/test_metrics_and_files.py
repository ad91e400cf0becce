import numpy as np
import pytest

from reid.search import metrics
from reid.models.clustering import NOISE, relabel_by_size
from reid.io.files import copy_without_overwrite, safe_folder_name


def test_perfect_separation_gives_zero_eer_and_full_scores():
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)
    labels = ["a", "a", "b", "b"]
    scores, same = metrics.pair_scores(vectors, labels)
    assert list(same) == [True, False, False, False, False, True]
    eer, threshold = metrics.equal_error_rate(scores, same)
    assert eer == 0.0 and threshold > 0.0
    assert metrics.verification_at(scores, same, 0.5)["f1"] == 1.0
    assert metrics.leave_one_out_top1(vectors, labels) == 1.0


def test_clustering_scores_count_noise_as_singletons():
    truth = ["a", "a", "a", "b", "b", "b"]
    assert metrics.clustering_scores(truth, np.array([0, 0, 0, 1, 1, 1]))["ami"] == 1.0
    all_noise = metrics.clustering_scores(truth, np.full(6, NOISE))
    assert all_noise["ari"] == 0.0  # one big "noise" cluster would score differently


def test_relabel_by_size_drops_small_clusters_and_orders_largest_first():
    labels = np.array([5, 5, 2, 2, 2, 9, NOISE])
    assert list(relabel_by_size(labels, 2)) == [1, 1, 0, 0, 0, NOISE, NOISE]


def test_copy_never_overwrites(tmp_path):
    src = tmp_path / "face.png"
    src.write_bytes(b"new")
    dest_dir = tmp_path / "out"
    dest_dir.mkdir()
    (dest_dir / "face.png").write_bytes(b"old")
    copied = copy_without_overwrite(src, dest_dir)
    assert copied.name == "face-1.png" and copied.read_bytes() == b"new"
    assert (dest_dir / "face.png").read_bytes() == b"old" and src.exists()
    assert sorted(p.name for p in dest_dir.iterdir()) == ["face-1.png", "face.png"]  # no temp files left


def test_safe_folder_name_cannot_escape():
    assert safe_folder_name("../etc/passwd") == "_etc_passwd"
    assert safe_folder_name("Hatsune Miku") == "Hatsune Miku"


def test_sampled_pairs_estimate_the_metrics_of_all_pairs_without_an_n_by_n_matrix():
    rng = np.random.default_rng(0)
    labels = [f"c{i % 40}" for i in range(1200)]
    centres = rng.normal(size=(40, 16))
    vectors = centres[[int(x[1:]) for x in labels]] + rng.normal(scale=1.2, size=(1200, 16))
    vectors = np.ascontiguousarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)
    exact = metrics.verification_pairs(vectors, labels)
    sampled = metrics.verification_pairs(vectors, labels, max_pairs=40_000)
    assert not exact.sampled and exact.total == len(exact.scores) == 1200 * 1199 // 2
    assert sampled.sampled and len(sampled.scores) == 40_000 and sampled.total == exact.total
    # the weights stand for every pair: same-label pairs of 40 labels x 30 faces, and the rest
    assert sampled.weights[sampled.same].sum() == pytest.approx(40 * 30 * 29 / 2)
    assert sampled.weights.sum() == pytest.approx(exact.total)
    eer, _ = metrics.equal_error_rate(exact.scores, exact.same)
    eer_s, _ = metrics.equal_error_rate(sampled.scores, sampled.same, sampled.weights)
    assert abs(eer - eer_s) < 0.01
    f1 = metrics.verification_at(exact.scores, exact.same, 0.3)["f1"]
    f1_s = metrics.verification_at(sampled.scores, sampled.same, 0.3, sampled.weights)["f1"]
    assert abs(f1 - f1_s) < 0.02
    best = metrics.best_f1(exact.scores, exact.same)["f1"]
    assert abs(best - metrics.best_f1(sampled.scores, sampled.same, sampled.weights)["f1"]) < 0.02
    histogram = metrics.score_histogram(sampled.scores, sampled.same, weights=sampled.weights)
    assert sum(histogram["same"]) + sum(histogram["different"]) == pytest.approx(exact.total, rel=1e-3)
