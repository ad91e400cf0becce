"""The faiss reference index: cosine similarity as inner product of L2-normalised float32 vectors.

Saved as ``NAME.faiss`` with its label map ``NAME.faiss.json`` beside it (labels, source files,
the encoder that made the vectors). Exact search by default; IVF for large reference sets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from reid.errors import ReidError
from reid.fileio import check_replaceable, check_writable, folder_lock, write_atomic, write_json_atomic

LABEL_MAP_SUFFIX = ".json"
FORMAT_VERSION = 1


def as_faiss_input(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
    return vectors


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def label_map_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + LABEL_MAP_SUFFIX)


def is_reid_index(path: Path) -> bool:
    """Whether reid wrote the index at ``path``: its label map beside it is one of reid's."""
    try:
        label_map = json.loads(label_map_path(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(label_map, dict) and label_map.get("format") == FORMAT_VERSION and "labels" in label_map


def check_index_output(path: Path, *companions: Path, force: bool = False) -> Path:
    """Before any work: the index, its label map and ``companions`` (the head) may be written at ``path``: each
    is new, or the previous index reid wrote there, or --force says to replace it."""
    path = Path(path)
    targets = (path, label_map_path(path), *companions)
    ours = any(target.exists() for target in targets) and is_reid_index(path)  # parses the label map once
    for target in targets:
        check_replaceable(target, ours=lambda _: ours, force=force, option="--index")
    return path


@dataclass
class ReferenceIndex:
    index: faiss.Index
    labels: list[str]
    paths: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, vectors: np.ndarray, labels: list[str], paths: list[str], *, ivf_lists: int = 0,
              meta: dict[str, Any] | None = None) -> "ReferenceIndex":
        vectors = as_faiss_input(vectors)
        if len(vectors) != len(labels) or len(labels) != len(paths):
            raise ValueError("vectors, labels and paths must have the same length")
        dim = vectors.shape[1]
        if ivf_lists and len(vectors) >= ivf_lists:
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, int(ivf_lists), faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(int(ivf_lists), 16)
        else:  # IVF needs at least as many vectors as lists; below that exact search is cheap anyway
            index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return cls(index, list(labels), [str(p) for p in paths], dict(meta or {}))

    @property
    def size(self) -> int:
        return self.index.ntotal

    @property
    def characters(self) -> list[str]:
        return sorted(set(self.labels))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` cosine scores and reference ids per query (id -1 where fewer exist)."""
        k = max(1, min(int(k), self.size))
        return self.index.search(as_faiss_input(queries), k)

    def centroids(self) -> tuple[list[str], np.ndarray]:
        """Per character the mean of its (normalised) references: q . mean = the mean cosine."""
        names = self.characters
        row = {name: i for i, name in enumerate(names)}
        sums = np.zeros((len(names), self.index.d), dtype=np.float64)
        counts = np.zeros(len(names))
        if isinstance(self.index, faiss.IndexIVF):
            self.index.make_direct_map()
        chunk = 65536  # bounded memory for millions of references
        for start in range(0, self.size, chunk):
            block = self.index.reconstruct_n(start, min(chunk, self.size - start))
            rows = np.array([row[label] for label in self.labels[start:start + len(block)]])
            np.add.at(sums, rows, block)
            np.add.at(counts, rows, 1)
        return names, as_faiss_input(sums / counts[:, None])

    def save(self, path: str | os.PathLike) -> Path:
        """The index, then its label map with the index file's checksum: a reader sees a pair that matches,
        or a mismatch it rebuilds. Temporary names are unique per process, so concurrent rebuilds do not collide."""
        path = check_writable(Path(path))
        digest = {}

        def write(tmp: Path) -> None:
            try:
                faiss.write_index(self.index, str(tmp))
            except RuntimeError as exc:  # faiss reports a full disk or a lost folder as a generic error
                detail = str(exc).strip().splitlines()[-1]
                system = re.search(r"\(([^()]+)\)$", detail)  # the operating system's words end faiss' message
                raise ReidError(f"{path}: cannot write the index ({system.group(1) if system else detail}); "
                                "check free space and permissions") from None
            digest["sha256"] = _sha256(tmp)

        with folder_lock(path.parent, exclusive=True):  # two rebuilds cannot interleave their two files
            write_atomic(path, write)
            write_json_atomic(label_map_path(path), {
                "format": FORMAT_VERSION, "metric": "cosine", "dim": self.index.d, "count": self.size, **digest,
                **self.meta, "labels": self.labels, "paths": self.paths,
            })
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ReferenceIndex":
        path = Path(path)
        map_path = label_map_path(path)
        for needed in (path, map_path):
            if not needed.is_file():  # faiss reports a missing file as a generic RuntimeError
                raise ReidError(f"{needed}: index file not found; run `reid enroll` to build it")
        try:
            with folder_lock(path.parent, exclusive=False):  # never half of a pair that is being replaced
                index = faiss.read_index(str(path))
                label_map = json.loads(map_path.read_text(encoding="utf-8"))
                digest = _sha256(path)
            labels, paths = label_map.pop("labels"), label_map.pop("paths")
        except (RuntimeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ReidError(f"{path}: unreadable index or label map ({exc}); delete both and run `reid enroll` again") from None
        if index.ntotal != len(labels):
            raise ReidError(f"{path}: index holds {index.ntotal} vectors but its label map {len(labels)}; run `reid enroll` again")
        if label_map.pop("sha256", None) not in (None, digest):
            raise ReidError(f"{path}: the index changed since its label map was written; run `reid enroll --rebuild`")
        return cls(index, labels, paths, label_map)


def kmeans_pseudo_labels(vectors: np.ndarray, k: int, *, pca_dim: int = 256, seed: int = 0,
                         iterations: int = 20) -> np.ndarray:
    """DeepCluster's assignment step: PCA-whiten, L2-normalise, k-means; one cluster id per row."""
    n, d = vectors.shape
    k = max(1, min(k, n))
    x = vectors
    x = as_faiss_input(_pca_whiten(x, min(pca_dim, d, n - 1)))
    faiss.normalize_L2(x)
    km = faiss.Kmeans(x.shape[1], k, niter=iterations, seed=seed, min_points_per_centroid=1,
                      max_points_per_centroid=100_000, verbose=False)
    km.train(x)
    return km.index.search(x, 1)[1].ravel().astype(np.int64)


def _pca_whiten(x: np.ndarray, dim: int, eps: float = 1e-5) -> np.ndarray:
    """Project on the top ``dim`` principal axes, each scaled to unit variance (eps keeps rank-deficient
    data, fewer images than dimensions, finite)."""
    centred = x.astype(np.float64) - x.mean(axis=0)
    if dim < 1:
        return centred
    values, vectors = np.linalg.eigh(centred.T @ centred / len(x))
    top = np.argsort(values)[::-1][:dim]
    return centred @ vectors[:, top] / np.sqrt(np.maximum(values[top], 0) + eps)
