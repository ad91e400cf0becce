import json

import numpy as np
import pytest

from reid.errors import ReidError
from reid.search.enrollment_files import label_map_path
from reid.search.index import ReferenceIndex


def random_unit(n, d, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("ivf_lists", [0, 4])
def test_index_round_trip_keeps_vectors_labels_and_results(tmp_path, ivf_lists):
    vectors = random_unit(200, 8)
    labels = [f"c{i % 5}" for i in range(200)]
    index = ReferenceIndex.build(vectors, labels, ivf_lists=ivf_lists, meta={"encoder": "x"})
    path = index.save(tmp_path / "refs.faiss")
    assert label_map_path(path).name == "refs.faiss.json"
    label_map = json.loads(label_map_path(path).read_text())
    assert label_map["metric"] == "cosine" and label_map["count"] == 200 and label_map["encoder"] == "x"
    loaded = ReferenceIndex.load(path)
    assert loaded.labels == labels and loaded.meta["encoder"] == "x"
    queries = random_unit(10, 8, seed=1)
    np.testing.assert_array_equal(index.search(queries, 5)[1], loaded.search(queries, 5)[1])
    scores, ids = loaded.search(vectors[:3], 1)
    if not ivf_lists:
        assert list(ids[:, 0]) == [0, 1, 2]
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)  # cosine of a vector with itself


def test_centroids_are_mean_of_references():
    vectors = random_unit(30, 4)
    labels = ["a"] * 10 + ["b"] * 20
    names, centroids = ReferenceIndex.build(vectors, labels, ivf_lists=2).centroids()
    assert names == ["a", "b"]
    np.testing.assert_allclose(centroids[0], vectors[:10].mean(0), atol=1e-5)
    np.testing.assert_allclose(centroids[1], vectors[10:].mean(0), atol=1e-5)


def test_damaged_or_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(ReidError, match="index file not found; run `reid enroll`"):
        ReferenceIndex.load(tmp_path / "none.faiss")
    path = ReferenceIndex.build(random_unit(3, 4), ["a", "b", "c"]).save(tmp_path / "x.faiss")
    label_map_path(path).write_text("{broken")
    with pytest.raises(ReidError, match="unreadable index or label map"):
        ReferenceIndex.load(path)
