"""The names of every file that enrollment writes beside an enrollment JSON, decided here and nowhere else.

``ENROLL.json`` enrolled with encoder E gives ``ENROLL.E.faiss`` (``ENROLL.E.body.faiss`` with body context),
and beside that index: its label map ``.faiss.json`` and columns ``.faiss.npz``, the classifier head
``.head.npz``, the embedding cache ``.embeddings.sqlite`` and, for a Ray enrollment, the ``.shards/`` folder.
"""

from __future__ import annotations

from pathlib import Path

INDEX_SUFFIX = ".faiss"
LABEL_MAP_SUFFIX = ".json"  # after the index's own name: NAME.faiss.json
COLUMNS_SUFFIX = ".npz"  # NAME.faiss.npz


def default_index_path(enroll_path: Path, encoder_name: str, body: bool = False) -> Path:
    """``ENROLL.json`` -> ``ENROLL.<encoder>.faiss`` (``ENROLL.<encoder>.body.faiss`` with body context)."""
    suffix = ".body" if body else ""
    return Path(enroll_path).with_name(f"{Path(enroll_path).stem}.{encoder_name}{suffix}{INDEX_SUFFIX}")


def label_map_path(index_path: Path) -> Path:
    return Path(index_path).with_name(Path(index_path).name + LABEL_MAP_SUFFIX)


def columns_path(index_path: Path) -> Path:
    return Path(index_path).with_name(Path(index_path).name + COLUMNS_SUFFIX)


def head_path_for(index_path: Path) -> Path:
    """``ENROLL.<encoder>.faiss`` -> ``ENROLL.<encoder>.head.npz``."""
    return Path(index_path).with_suffix(".head.npz")


def cache_path_for(index_path: Path) -> Path:
    """``ENROLL.<encoder>.faiss`` -> ``ENROLL.<encoder>.embeddings.sqlite``."""
    return Path(index_path).with_suffix(".embeddings.sqlite")


def shards_path_for(index_path: Path) -> Path:
    """``ENROLL.<encoder>.faiss`` -> ``ENROLL.<encoder>.shards/``."""
    return Path(index_path).with_suffix(".shards")
