"""What reid reads back from its own files, checked field by field: a label map, cache row or calibration edited by
hand or damaged is one clear error, or rebuilt, never a traceback."""

import json
import sqlite3

import numpy as np
import pytest

from reid.errors import ReidError
from reid.models.encoders import load_encoder
from reid.search.enrollment import enroll
from reid.search.enrollment_files import cache_path_for, label_map_path
from reid.search.index import ReferenceIndex


def saved_index(tmp_path):
    vectors = np.eye(3, 4, dtype=np.float32)
    return ReferenceIndex.build(vectors, ["a", "b", "c"]).save(tmp_path / "x.faiss")


@pytest.mark.parametrize("edit", [
    lambda m: [1, 2],
    lambda m: {**m, "characters": "abc"},
    lambda m: {**m, "characters": [1, 2, 3]},
    lambda m: {**m, "characters": ["a"]},
])
def test_a_label_map_of_the_wrong_types_is_one_error(tmp_path, edit):
    path = saved_index(tmp_path)
    label_map = json.loads(label_map_path(path).read_text())
    label_map_path(path).write_text(json.dumps(edit(label_map)))
    with pytest.raises(ReidError, match=r"x.faiss: (unreadable index or label map|index holds)"):
        ReferenceIndex.load(path)


@pytest.fixture
def enrolled(data):
    encoder = load_encoder("color_texture")
    return encoder, enroll(data / "enroll.json", encoder)


def test_a_damaged_cache_row_is_embedded_again(data, enrolled):
    encoder, first = enrolled
    with sqlite3.connect(cache_path_for(first.index_path)) as db:
        db.execute("UPDATE embedding SET faces = 'two', data = x'00' WHERE rowid = 1")
        db.execute("UPDATE embedding SET dim = 7 WHERE rowid = 2")
    first.index_path.unlink()  # rebuilt from the cache
    again = enroll(data / "enroll.json", encoder)
    assert again.embedded == 2 and again.index.size == first.index.size


@pytest.mark.parametrize("field, value", [("open_set", {"any": {"threshold": "high"}}), ("open_set", [1]),
                                          ("skipped", [[1]]), ("dropped", [{"path": 1}])])
def test_a_label_map_meta_edited_by_hand_is_rebuilt(data, enrolled, field, value):
    encoder, first = enrolled
    label_map = json.loads(label_map_path(first.index_path).read_text())
    label_map[field] = value
    label_map_path(first.index_path).write_text(json.dumps(label_map))
    again = enroll(data / "enroll.json", encoder)
    assert not again.reused and again.index.size == first.index.size
