"""Enrollment on Ray: a local cluster of 2 workers started by the test itself."""

import numpy as np
import pytest

pytest.importorskip("ray.data", reason="the Ray path needs reid[ray]")

from reid.search.ray_enrollment import read_shards  # noqa: E402
from reid.models.encoders import load_encoder  # noqa: E402
from reid.io.images import load_image  # noqa: E402
from reid.search.index import IndexKind, ReferenceIndex  # noqa: E402
from helpers import one_error_line, snapshot  # noqa: E402


@pytest.mark.slow
def test_enroll_on_a_local_ray_cluster_writes_shards_and_an_index_classify_uses(cli, data):
    broken = data / "references" / "Aoi" / "aoi_broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = cli.json("enroll", data / "enroll.json", "--encoder", "color_texture", "--ray", "local", "--workers", "2")
    assert out["references"] == {"Aoi": 6, "Beni": 6, "Kiiro": 6} and out["skipped"] == 1
    index = ReferenceIndex.load(out["index"])
    assert index.kind == IndexKind.compact and index.meta["open_set"]["Any"]["threshold"] is not None
    encoder = load_encoder("color_texture")
    shards = list(read_shards(out["shards"], encoder.embedding_dim))
    assert sum(len(s.paths) for s in shards) == 18 and [str(f.path) for s in shards for f in s.failures] == [str(broken)]
    paths = [p for s in shards for p in s.paths]
    vectors = np.concatenate([s.vectors for s in shards])
    np.testing.assert_allclose(vectors, encoder.embed(load_image(p) for p in paths), atol=1e-5)  # as on one machine
    # what classify would build from the same files with the same options: it takes the index as it is
    again = cli.json("enroll", data / "enroll.json", "--encoder", "color_texture", "--keep-outliers", "--compact")
    assert again["reused"] and again["index"] == out["index"]


def test_no_ray_cluster_at_the_address_is_one_error_line_and_nothing_written(cli, data, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    before = snapshot(data)
    one_error_line(cli("enroll", data / "enroll.json", "--encoder", "color_texture", "--ray", "auto", ok=False),
                   "Ray cluster auto", "--ray local")
    assert snapshot(data) == before


def test_options_the_ray_path_cannot_honour_are_refused_before_any_work(cli, data):
    one_error_line(cli("enroll", data / "enroll.json", "--ray", "local", "--head", ok=False), "--head")
