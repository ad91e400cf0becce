"""Reference embeddings kept between enrollments, so that adding or removing references re-embeds only the
files that changed.

One SQLite file beside the index (``ENROLL.<encoder>.embeddings.sqlite``), one row per reference file keyed
by its path, size and modification time, holding the file's faces x views x dim as float16. What made the
vectors (encoder, detector and context, views) is the cache's identity: a cache made by anything else is
emptied, never mixed in. Rows of files no longer enrolled are dropped when new ones are stored, so the cache
stays the size of the enrollment. Losing the file costs only time: it is a cache.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from reid.errors import ReidError
from reid.io.files import check_replaceable

SCHEMA_VERSION = 1
STORED = np.float16  # half the size; cosines move by about 1e-4, and fresh vectors take the same rounding
BUSY_TIMEOUT_S = 60  # a concurrent enrollment of the same references holds the write lock while it stores

Signature = tuple[int, int]  # size, mtime_ns


def signature(path: Path) -> Signature:
    stat = Path(path).stat()
    return stat.st_size, stat.st_mtime_ns


def rounded(array: np.ndarray) -> np.ndarray:
    """What an array reads back as from the cache: fresh and cached vectors give the same index."""
    return np.asarray(array, dtype=STORED).astype(np.float32)


def is_embedding_cache(path: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == str(SCHEMA_VERSION)


class EmbeddingCache:
    def __init__(self, path: Path, identity: dict, *, force: bool = False):
        self.path = Path(path)
        check_replaceable(self.path, ours=is_embedding_cache, force=force, option="--index")
        if self.path.exists() and not is_embedding_cache(self.path):
            self.path.unlink()  # --force: someone's file, not a cache; check_replaceable allowed replacing it
        self.identity = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            with self._transaction():
                self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self.db.execute("CREATE TABLE IF NOT EXISTS embedding (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                                "mtime_ns INTEGER NOT NULL, faces INTEGER NOT NULL, views INTEGER NOT NULL, "
                                "dim INTEGER NOT NULL, data BLOB NOT NULL)")
                made_by = self.db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
                if made_by is None or made_by[0] != self.identity:
                    self.db.execute("DELETE FROM embedding")
                    self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                        [("schema_version", str(SCHEMA_VERSION)), ("identity", self.identity)])
        except sqlite3.Error as exc:
            raise ReidError(f"{self.path}: cannot use the embedding cache ({exc}); delete it and enroll again") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing; SQLite's own errors (a full disk is "database or disk is full", not an OSError) become
        one line naming the cache."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.db.in_transaction:  # SQLite has already rolled back after some errors, a full disk among them
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ReidError(f"{self.path}: the embedding cache could not be written ({exc}); free space there, or "
                            "delete the file, and enroll again (the cache and the index are as they were)") from None

    def clear(self) -> None:
        with self._transaction():
            self.db.execute("DELETE FROM embedding")

    def lookup(self, wanted: dict[Path, Signature]) -> dict[Path, np.ndarray]:
        """The cached faces x views x dim of each file in ``wanted`` whose size and mtime still match. A damaged row
        (bytes that do not fill its shape, fields of the wrong type) is a miss: that file is embedded again."""
        by_name = {str(p): (p, s) for p, s in wanted.items()}
        found: dict[Path, np.ndarray] = {}
        try:
            for name, size, mtime_ns, faces, views, dim, data in self.db.execute("SELECT * FROM embedding"):
                hit = by_name.get(name)
                if hit is not None and hit[1] == (size, mtime_ns):
                    try:
                        vectors = np.frombuffer(data, dtype=STORED).reshape(faces, views, dim).astype(np.float32)
                    except (ValueError, TypeError):
                        continue
                    if np.isfinite(vectors).all():
                        found[hit[0]] = vectors
        except sqlite3.Error as exc:
            raise ReidError(f"{self.path}: the embedding cache cannot be read ({exc}); delete it and enroll again") from None
        return found

    def store(self, entries: Iterable[tuple[Path, Signature, np.ndarray]], *, keep: Iterable[Path]) -> None:
        """Add (file, signature, faces x views x dim) rows and drop the rows of files not in ``keep``, in one
        transaction: an interrupted enrollment leaves the cache as it was."""
        keep_names = {str(p) for p in keep}
        with self._transaction():
            stale = [(name,) for (name,) in self.db.execute("SELECT path FROM embedding") if name not in keep_names]
            self.db.executemany("DELETE FROM embedding WHERE path = ?", stale)
            self.db.executemany("INSERT OR REPLACE INTO embedding VALUES (?, ?, ?, ?, ?, ?, ?)", (
                (str(path), size, mtime_ns, *array.shape, np.ascontiguousarray(array, dtype=STORED).tobytes())
                for path, (size, mtime_ns), array in entries))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
