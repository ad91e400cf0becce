"""Finding characters in unlabelled embeddings: optional UMAP reduction, then a clusterer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from reid import plugins

NOISE = -1


@dataclass
class Clustering:
    labels: np.ndarray  # cluster ids 0.. by decreasing size, NOISE for unclustered
    method: str
    reduced_to: int  # 0 when UMAP was skipped

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    @property
    def n_noise(self) -> int:
        return int((self.labels == NOISE).sum())


def reduce_umap(vectors: np.ndarray, dim: int, *, seed: int = 0) -> np.ndarray | None:
    """UMAP to ``dim`` dimensions with the cosine metric; None when there are too few points for it."""
    n = len(vectors)
    if dim <= 0 or n <= dim + 2 or n < 10:
        return None
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that a seed disables parallelism
        reducer = umap.UMAP(n_components=dim, n_neighbors=min(15, n - 1), min_dist=0.0,
                            metric="cosine", random_state=seed, init="spectral" if n > 50 else "random")
        return reducer.fit_transform(vectors)


def relabel_by_size(labels: np.ndarray, min_cluster_size: int) -> np.ndarray:
    """Clusters smaller than ``min_cluster_size`` become noise; the rest are numbered largest first."""
    labels = np.asarray(labels)
    kept = [c for c in np.unique(labels) if c != NOISE and (labels == c).sum() >= min_cluster_size]
    kept.sort(key=lambda c: (-(labels == c).sum(), np.argmax(labels == c)))
    out = np.full(len(labels), NOISE, dtype=int)
    for new, old in enumerate(kept):
        out[labels == old] = new
    return out


def check_method(method: str) -> None:
    """Fail on an unknown clusterer name before any slow work (the error lists the valid names)."""
    plugins.registry("clusterers").entry(method)


def cluster_vectors(vectors: np.ndarray, *, method: str = "hdbscan", umap_dim: int = 32,
                    min_cluster_size: int = 5, seed: int = 0) -> Clustering:
    clusterer = plugins.registry("clusterers").create(method, min_cluster_size=min_cluster_size)
    if len(vectors) < 2:
        return Clustering(np.full(len(vectors), NOISE, dtype=int), method, 0)
    reduced = reduce_umap(vectors, umap_dim, seed=seed)
    labels = clusterer.fit(reduced if reduced is not None else vectors).labels_
    return Clustering(relabel_by_size(labels, min_cluster_size), method, umap_dim if reduced is not None else 0)
