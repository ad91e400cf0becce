"""The faiss reference index: cosine similarity as inner product of L2-normalised float32 vectors.

Saved as three files: ``NAME.faiss`` (the faiss index, memory-mapped when read), ``NAME.faiss.npz``
(the character of each reference as an int32 column, each character's mean vector, and the projection
of a compact index) and the label map ``NAME.faiss.json`` (character names, the encoder that made the
vectors, checksums of the other two). None of them is parsed per reference as text, so a million
references load in well under a second.

Three kinds: ``exact`` (every vector, flat scan), ``ivf`` (every vector, inverted lists) and
``compact`` for large reference sets: vectors projected on their top principal axes (learnt at
enrollment, uncentred, renormalised), searched by IVF-PQ and re-ranked on 8-bit scalar-quantised codes.
Scores of a compact index are cosines in the projected space; everything calibrated on an index
(``reid.search.open_set``) is calibrated in that same space.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Sequence

import faiss
import numpy as np
from scipy import sparse

from reid.errors import ReidError
from reid.search.enrollment_files import columns_path, label_map_path
from reid.io.files import check_replaceable, check_writable, folder_lock, write_atomic, write_json_atomic

FORMAT_VERSION = 2

COMPACT_FROM = 100_000  # references: from here an exact index costs gigabytes and a flat scan per query
COMPACT_DIM = 256  # measured on charfaces (944-d): top-1 0.6995 against 0.6988 unprojected, 0.6943 at 128
COMPACT_IVF_FROM = 20_000  # below this, PQ and inverted lists have too few vectors to learn from: scan 8-bit codes
PQ_BYTES = 32  # per vector, searched first; the 8-bit codes (COMPACT_DIM bytes) re-rank the candidates
REFINE_FACTOR = 4  # candidates re-ranked per result wanted
NPROBE = 32  # inverted lists visited per query
TRAIN_SAMPLE = 200_000  # vectors the projection and the quantisers learn from
FULL_DIGEST_UP_TO = 64 << 20  # bytes; a larger file is checked on sampled blocks so that loading stays O(1)


class IndexKind(str, Enum):
    exact = "exact"
    ivf = "ivf"
    compact = "compact"


def as_faiss_input(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
    return vectors


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = as_faiss_input(vectors).copy()
    faiss.normalize_L2(vectors)
    return vectors


def projected(vectors: np.ndarray, projection: np.ndarray | None) -> np.ndarray:
    """Vectors on a compact index's axes, renormalised; as they are without a projection."""
    vectors = as_faiss_input(vectors)
    return vectors if projection is None else normalised(vectors @ projection)


def _digest(path: Path) -> str:
    """sha256 of the file; of its size and sampled blocks when it is large, so that a check costs the same for
    a gigabyte index as for a small one and still tells two builds apart."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= FULL_DIGEST_UP_TO:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
            return digest.hexdigest()
        digest.update(str(size).encode())
        for offset in np.linspace(0, size - (1 << 16), 256).astype(np.int64):
            f.seek(int(offset))
            digest.update(f.read(1 << 16))
    return "sampled:" + digest.hexdigest()


def _read_label_map(path: Path) -> dict | None:
    try:
        label_map = json.loads(label_map_path(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return label_map if isinstance(label_map, dict) else None


def is_reid_index(path: Path) -> bool:
    """Whether reid wrote the index at ``path`` (this version or an earlier one): its label map is one of reid's."""
    label_map = _read_label_map(path)
    return label_map is not None and label_map.get("format") in (1, FORMAT_VERSION) and (
        "labels" in label_map or "characters" in label_map)


def check_index_output(path: Path, *companions: Path, force: bool = False) -> Path:
    """Before any work: the index, its label map and ``companions`` (the head) may be written at ``path``: each
    is new, or the previous index reid wrote there, or --force says to replace it."""
    path = Path(path)
    targets = (path, label_map_path(path), columns_path(path), *companions)
    ours = any(target.exists() for target in targets) and is_reid_index(path)  # parses the label map once
    for target in targets:
        check_replaceable(target, ours=lambda _: ours, force=force, option="--index")
    return path


def choose_kind(references: int, *, compact: bool | None = None, ivf_lists: int = 0) -> IndexKind:
    """``compact``: True or False as asked, None to decide by size."""
    if compact or (compact is None and references >= COMPACT_FROM):
        return IndexKind.compact
    return IndexKind.ivf if ivf_lists else IndexKind.exact


def learn_projection(sample: np.ndarray, dim: int = COMPACT_DIM) -> np.ndarray | None:
    """The top ``dim`` axes of the sample's second moments (d x dim), or None where that keeps every dimension.
    Uncentred: the direction that all embeddings share carries part of each cosine (centring cost 0.6 points
    of top-1 on charfaces)."""
    d = sample.shape[1]
    if dim >= d:
        return None
    moments = np.zeros((d, d))
    for start in range(0, len(sample), 65536):
        block = sample[start:start + 65536].astype(np.float64)
        moments += block.T @ block
    values, axes = np.linalg.eigh(moments)
    return as_faiss_input(axes[:, np.argsort(values)[::-1][:dim]])


def _ivf_lists(references: int) -> int:
    return int(min(65536, max(1, 4 * math.sqrt(references))))


def _empty_index(kind: IndexKind, dim: int, references: int, ivf_lists: int) -> faiss.Index:
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == IndexKind.ivf and references >= ivf_lists:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, int(ivf_lists), ip)
        index.nprobe = min(int(ivf_lists), 16)
        return index
    if kind == IndexKind.compact:
        codes = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, ip)
        if references < COMPACT_IVF_FROM:
            return codes
        lists = ivf_lists or _ivf_lists(references)
        coarse = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, lists, PQ_BYTES, 8, ip)
        coarse.nprobe = min(lists, NPROBE)
        refined = faiss.IndexRefine(coarse, codes)
        refined.k_factor = REFINE_FACTOR
        return refined
    return faiss.IndexFlatIP(dim)  # IVF needs at least as many vectors as lists; below that exact search is cheap anyway


# memory-mapped reading, so that the codes stay in the page cache, shared by every process that reads them: faiss
# maps either inverted lists or flat codes, not both in one read; a compact index maps its re-ranking codes, the
# larger part (its PQ lists take PQ_BYTES + 8 bytes a vector)
_MMAP = {IndexKind.exact.value: faiss.IO_FLAG_MMAP_IFC, IndexKind.compact.value: faiss.IO_FLAG_MMAP_IFC,
         IndexKind.ivf.value: faiss.IO_FLAG_MMAP}


def _search_parameters(index: faiss.Index) -> None:
    """What faiss does not keep in the file, or keeps from an older build: how deep a search goes."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexRefine):
        index.k_factor = REFINE_FACTOR
        base = faiss.downcast_index(index.base_index)
        base.nprobe = min(base.nlist, NPROBE)


class IndexBuilder:
    """A reference index built in passes: ``train`` on a sample (the projection and the quantisers), then ``add``
    chunk by chunk, so that no pass needs every vector in memory."""

    def __init__(self, characters: Sequence[str], kind: IndexKind, *, references: int, ivf_lists: int = 0):
        self.characters = list(characters)
        self.kind, self.references, self.ivf_lists = IndexKind(kind), int(references), int(ivf_lists)
        self.projection: np.ndarray | None = None
        self.index: faiss.Index | None = None
        self.labels: list[np.ndarray] = []
        self.sums: np.ndarray | None = None

    def train(self, sample: np.ndarray) -> "IndexBuilder":
        sample = as_faiss_input(sample)
        if self.kind == IndexKind.compact:
            self.projection = learn_projection(sample)
        sample = self.project(sample)
        self.index = _empty_index(self.kind, sample.shape[1], self.references, self.ivf_lists)
        if not self.index.is_trained:
            self.index.train(sample)
        self.sums = np.zeros((len(self.characters), sample.shape[1]))
        return self

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return projected(vectors, self.projection)

    def add(self, vectors: np.ndarray, label_ids: np.ndarray) -> "IndexBuilder":
        """Normalised encoder vectors and the position of each one's character in ``characters``."""
        if self.index is None:
            raise RuntimeError("train the builder before adding vectors")
        label_ids = np.asarray(label_ids, dtype=np.int32)
        if len(vectors) != len(label_ids):
            raise ValueError("vectors and labels must have the same length")
        stored = self.project(vectors)
        self.index.add(stored)
        # each character's sum as one sparse product: np.add.at scatters row by row, 25x the cost of faiss' add
        one_hot = sparse.csr_matrix((np.ones(len(label_ids), np.float32), (label_ids, np.arange(len(label_ids)))),
                                    shape=(len(self.characters), len(label_ids)))
        self.sums += one_hot @ stored
        self.labels.append(label_ids)
        return self

    def finish(self, meta: dict[str, Any] | None = None) -> "ReferenceIndex":
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0, dtype=np.int32)
        counts = np.bincount(labels, minlength=len(self.characters))
        centroids = as_faiss_input(self.sums / np.maximum(counts, 1)[:, None])
        return ReferenceIndex(self.index, self.characters, labels, centroids, self.projection,
                              {"kind": self.kind.value, **(meta or {})})


def sample_rows(n: int, size: int = TRAIN_SAMPLE, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False)) if n > size else np.arange(n)


@dataclass
class ReferenceIndex:
    index: faiss.Index  # searches stored (projected, for a compact index) vectors
    characters: list[str]  # sorted names
    label_ids: np.ndarray  # int32 per reference: its character's position in ``characters``
    centroid_vectors: np.ndarray  # per character the mean of its stored vectors
    projection: np.ndarray | None = None  # encoder dim x stored dim, for a compact index
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, vectors: np.ndarray, labels: Sequence[str], *, ivf_lists: int = 0, compact: bool | None = False,
              meta: dict[str, Any] | None = None) -> "ReferenceIndex":
        vectors = as_faiss_input(vectors)
        if len(vectors) != len(labels):
            raise ValueError("vectors and labels must have the same length")
        characters, label_ids = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
        builder = IndexBuilder(characters.tolist(), choose_kind(len(vectors), compact=compact, ivf_lists=ivf_lists),
                               references=len(vectors), ivf_lists=ivf_lists)
        builder.train(vectors[sample_rows(len(vectors))])
        # chunks bound the projected copies of a compact index; unprojected vectors are in memory already, and
        # faiss copies its whole store again on each add that grows it
        chunk = 65536 if builder.projection is not None else max(1, len(vectors))
        for start in range(0, len(vectors), chunk):
            builder.add(vectors[start:start + chunk], label_ids[start:start + chunk])
        return builder.finish(meta)

    @property
    def size(self) -> int:
        return self.index.ntotal

    @property
    def kind(self) -> IndexKind:
        return IndexKind(self.meta.get("kind", IndexKind.exact.value))

    @property
    def labels(self) -> list[str]:
        """Every reference's character; ``label_of`` looks up a few without building the list."""
        return self.label_of(np.arange(self.size))

    def label_of(self, ids: np.ndarray) -> list[str]:
        return [self.characters[i] for i in self.label_ids[np.asarray(ids)]]

    def counts(self) -> dict[str, int]:
        return dict(zip(self.characters, np.bincount(self.label_ids, minlength=len(self.characters)).tolist()))

    def project(self, queries: np.ndarray) -> np.ndarray:
        """Encoder vectors into the space the index stores (the same vectors unless it is compact)."""
        return projected(queries, self.projection)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` cosine scores and reference ids per (encoder) query vector, id -1 where fewer exist."""
        k = max(1, min(int(k), self.size))
        return self.index.search(self.project(queries), k)

    def centroids(self) -> tuple[list[str], np.ndarray]:
        """Per character the mean of its stored references: projected query . mean = the mean cosine."""
        return self.characters, self.centroid_vectors

    def save(self, path: str | os.PathLike) -> Path:
        """The index and its columns, then the label map with both files' checksums: a reader sees files that
        match, or a mismatch it rebuilds. Temporary names are unique per process, so concurrent rebuilds do not
        collide."""
        path = check_writable(Path(path))
        digests = {}

        def write_index(tmp: Path) -> None:
            try:
                faiss.write_index(self.index, str(tmp))
            except RuntimeError as exc:  # faiss reports a full disk or a lost folder as a generic error
                detail = str(exc).strip().splitlines()[-1]
                system = re.search(r"\(([^()]+)\)$", detail)  # the operating system's words end faiss' message
                raise ReidError(f"{path}: cannot write the index ({system.group(1) if system else detail}); "
                                "check free space and permissions") from None
            digests["sha256"] = _digest(tmp)

        def write_columns(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, label=self.label_ids.astype(np.int32), centroids=self.centroid_vectors,
                         **({} if self.projection is None else {"projection": self.projection}))
            digests["columns_sha256"] = _digest(tmp)

        with folder_lock(path.parent, exclusive=True):  # two rebuilds cannot interleave their files
            write_atomic(path, write_index)
            write_atomic(columns_path(path), write_columns)
            write_json_atomic(label_map_path(path), {
                "format": FORMAT_VERSION, "metric": "cosine", "dim": self.index.d, "count": self.size, **digests,
                **self.meta, "characters": self.characters,
            })
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ReferenceIndex":
        path = Path(path)
        for needed in (path, label_map_path(path)):
            if not needed.is_file():  # faiss reports a missing file as a generic RuntimeError
                raise ReidError(f"{needed}: index file not found; run `reid enroll` to build it")
        try:
            with folder_lock(path.parent, exclusive=False):  # never part of a set that is being replaced
                label_map = json.loads(label_map_path(path).read_text(encoding="utf-8"))
                if not isinstance(label_map, dict):
                    raise ValueError("the label map is not a JSON object")
                if label_map.get("format") != FORMAT_VERSION:
                    raise ReidError(f"{path}: written by an earlier version of reid; run `reid enroll --rebuild`")
                index = faiss.read_index(str(path), _MMAP[label_map.get("kind", IndexKind.exact.value)])
                with np.load(columns_path(path)) as columns:
                    label_ids, centroids = columns["label"], columns["centroids"]
                    projection = columns["projection"] if "projection" in columns else None
                sums = _digest(path), _digest(columns_path(path))
            characters = label_map.pop("characters")
            if not isinstance(characters, list) or not all(isinstance(c, str) for c in characters):
                raise ValueError("its characters are not a list of names")
            if label_ids.dtype.kind not in "iu" or (len(label_ids) and not 0 <= label_ids.min() <= label_ids.max() < len(characters)):
                raise ValueError("its label column does not point at its characters")
        except (RuntimeError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ReidError(f"{path}: unreadable index or label map ({exc}); delete its files and run `reid enroll` again") from None
        if index.ntotal != len(label_ids) or len(centroids) != len(characters):
            raise ReidError(f"{path}: index holds {index.ntotal} vectors but its label map {len(label_ids)}; run `reid enroll` again")
        if (label_map.pop("sha256", None), label_map.pop("columns_sha256", None)) != sums:
            raise ReidError(f"{path}: the index changed since its label map was written; run `reid enroll --rebuild`")
        _search_parameters(index)
        return cls(index, characters, label_ids, centroids, projection, label_map)


def kmeans_assign(vectors: np.ndarray, k: int, *, seed: int = 0, iterations: int = 20) -> np.ndarray:
    """faiss k-means on cosine (rows L2-normalised first): one cluster id per row."""
    x = normalised(vectors)
    k = max(1, min(k, len(x)))
    km = faiss.Kmeans(x.shape[1], k, niter=iterations, seed=seed, min_points_per_centroid=1,
                      max_points_per_centroid=100_000, verbose=False)
    km.train(x)
    return km.index.search(x, 1)[1].ravel().astype(np.int64)
