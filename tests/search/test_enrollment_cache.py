"""Incremental enrollment (only changed reference files are embedded again) and the compact index."""

import json
import shutil

import numpy as np
import pytest

from reid.models.encoders import load_encoder
from reid.search.enrollment import enroll
from reid.errors import ReidError
from reid.search.enrollment_files import COLUMNS_SUFFIX, cache_path_for, label_map_path
from reid.search.index import IndexKind, ReferenceIndex
from reid.search.metrics import rows_per_label
from reid.search.ranking import Mode, rank_characters


@pytest.fixture
def encoder():
    return load_encoder("color_texture")


def _write_enrollment(data, characters):
    (data / "enroll.json").write_text(json.dumps({c: f"references/{c}" for c in characters}))


def _same_index(a: ReferenceIndex, b: ReferenceIndex) -> None:
    assert a.labels == b.labels
    np.testing.assert_array_equal(a.index.reconstruct_n(0, a.size), b.index.reconstruct_n(0, b.size))
    assert a.meta["open_set"] == b.meta["open_set"]


def test_adding_and_removing_a_character_embeds_only_the_new_files(data, encoder):
    first = enroll(data / "enroll.json", encoder)
    assert first.embedded == 18 and cache_path_for(first.index_path).is_file()
    _write_enrollment(data, ["Aoi", "Beni"])
    fewer = enroll(data / "enroll.json", encoder)
    assert not fewer.reused and fewer.embedded == 0 and fewer.index.counts() == {"Aoi": 6, "Beni": 6}
    _write_enrollment(data, ["Aoi", "Beni", "Kiiro"])
    back = enroll(data / "enroll.json", encoder)
    assert back.embedded == 6  # Kiiro's rows left the cache with Kiiro
    shutil.copytree(data / "references" / "Kiiro", data / "references" / "Midori")
    _write_enrollment(data, ["Aoi", "Beni", "Kiiro", "Midori"])
    more = enroll(data / "enroll.json", encoder)
    assert more.embedded == 6 and more.index.counts()["Midori"] == 6
    # what the cache gives back builds the index that embedding everything again builds
    _write_enrollment(data, ["Aoi", "Beni", "Kiiro"])
    cached = enroll(data / "enroll.json", encoder)
    fresh = enroll(data / "enroll.json", encoder, rebuild=True)
    assert cached.embedded == 0 and fresh.embedded == 18
    _same_index(cached.index, fresh.index)


def test_a_cache_from_another_encoder_is_emptied_not_mixed_in(data, encoder):
    enroll(data / "enroll.json", encoder)
    other = load_encoder("color_texture", batch_size=4)  # same network: same identity, the cache holds
    assert enroll(data / "enroll.json", other, rebuild=False).reused
    cache = cache_path_for(data / f"enroll.{encoder.name}.faiss")
    assert enroll(data / "enroll.json", encoder, index_path=data / "x.faiss").embedded == 18  # another index, another cache
    assert cache.is_file()


def test_a_file_at_the_cache_path_that_reid_did_not_write_is_refused(data, encoder):
    cache = cache_path_for(data / f"enroll.{encoder.name}.faiss")
    cache.write_text("my notes")
    with pytest.raises(ReidError, match="a file reid did not write is already there; pass --force"):
        enroll(data / "enroll.json", encoder)
    assert cache.read_text() == "my notes"
    assert enroll(data / "enroll.json", encoder, force=True).embedded == 18


def test_an_index_from_an_earlier_version_is_rebuilt(data, encoder):
    path = enroll(data / "enroll.json", encoder).index_path
    label_map = json.loads(label_map_path(path).read_text())
    label_map_path(path).write_text(json.dumps({**label_map, "format": 1, "labels": []}))
    with pytest.raises(ReidError, match="earlier version of reid; run `reid enroll --rebuild`"):
        ReferenceIndex.load(path)
    again = enroll(data / "enroll.json", encoder)
    assert not again.reused and again.embedded == 0 and ReferenceIndex.load(path).size == 18


def test_compact_enrollment_classifies_in_its_projected_space(data, encoder):
    exact = enroll(data / "enroll.json", encoder)
    compact = enroll(data / "enroll.json", encoder, compact=True, index_path=data / "compact.faiss")
    assert compact.index.kind == IndexKind.compact and compact.embedded == 18
    assert compact.index.projection.shape == (encoder.embedding_dim, 256) and compact.index.index.d == 256
    assert (data / f"compact.faiss{COLUMNS_SUFFIX}").is_file()
    loaded = ReferenceIndex.load(data / "compact.faiss")
    queries = exact.index.index.reconstruct_n(0, 18)
    for mode in (Mode.any, Mode.avg):
        assert [r[0][0] for r in rank_characters(loaded, queries, mode)] == exact.index.labels
    assert compact.calibration[Mode.any].threshold is not None


def test_rows_per_label_groups_in_one_pass():
    groups = rows_per_label(["b", "a", "b", "c", "a"])[1]
    assert [g.tolist() for g in groups] == [[1, 4], [0, 2], [3]]
    assert rows_per_label([])[1] == []


@pytest.mark.slow
def test_compact_index_at_scale_finds_what_exact_search_finds(tmp_path):
    """IVF-PQ with re-ranking: 30,000 references of 1,000 characters, 384-d, each query a new picture."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(1000, 384)).astype(np.float32)
    truth = rng.integers(0, 1000, 30_000)
    vectors = centres[truth] + rng.normal(scale=0.6, size=(30_000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = [f"c{t}" for t in truth]
    exact = ReferenceIndex.build(vectors, labels)
    compact = ReferenceIndex.build(vectors, labels, compact=True)
    compact = ReferenceIndex.load(compact.save(tmp_path / "big.faiss"))
    assert type(compact.index).__name__ == "IndexRefine"
    queries = centres[:200] + rng.normal(scale=0.6, size=(200, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    same = np.mean(np.array(exact.label_of(exact.search(queries, 1)[1][:, 0])) ==
                   np.array(compact.label_of(compact.search(queries, 1)[1][:, 0])))
    assert same >= 0.95


def test_a_full_disk_while_storing_embeddings_is_one_error_and_leaves_cache_and_index_as_they_were(data, encoder, monkeypatch):
    import sqlite3

    from reid.search import embedding_cache

    first = enroll(data / "enroll.json", encoder)
    files = sorted(p for p in data.iterdir() if p.name.startswith(first.index_path.name) or p.suffix == ".sqlite")
    before = {p: p.read_bytes() for p in files}
    connect = sqlite3.connect

    def full_disk(*args, **kwargs):  # SQLite reports a full disk when it may not grow the file
        db = connect(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr(embedding_cache.sqlite3, "connect", full_disk)
    shutil.copytree(data / "references" / "Kiiro", data / "references" / "Midori")
    _write_enrollment(data, ["Aoi", "Beni", "Kiiro", "Midori"])
    with pytest.raises(ReidError, match="could not be written.*full.*as they were"):
        enroll(data / "enroll.json", encoder)
    assert {p: p.read_bytes() for p in files} == before
