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


def umap_applies(n: int, dim: int) -> bool:
    """Whether UMAP reduces ``n`` points to ``dim`` dimensions (too few points are clustered as they are)."""
    return 0 < dim and n > dim + 2 and n >= 10


def reduce_umap(vectors: np.ndarray, dim: int, *, seed: int = 0) -> np.ndarray | None:
    """UMAP to ``dim`` dimensions with the cosine metric; None when there are too few points for it."""
    n = len(vectors)
    if not umap_applies(n, dim):
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


def merge_close_clusters(vectors: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Seed 001's post-processing: while two clusters' mean embeddings have a cosine of ``threshold`` or
    more, merge the closest pair (characters split by pose or artist come back together)."""
    labels = np.asarray(labels).copy()
    while True:
        ids = [c for c in np.unique(labels) if c != NOISE]
        if len(ids) < 2:
            return labels
        centroids = np.stack([vectors[labels == c].mean(axis=0) for c in ids])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        scores = centroids @ centroids.T
        np.fill_diagonal(scores, -np.inf)
        i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if scores[i, j] < threshold:
            return labels
        labels[labels == ids[j]] = ids[i]


def check_method(method: str) -> None:
    """Fail on an unknown clusterer name before any slow work (the error lists the valid names)."""
    plugins.registry("clusterers").entry(method)


def cluster_vectors(vectors: np.ndarray, *, method: str = "hdbscan", umap_dim: int = 32,
                    min_cluster_size: int = 5, seed: int = 0, merge_threshold: float | None = None,
                    progress=None) -> Clustering:
    """Cluster (after UMAP), merge clusters whose centroids in the original embedding space are at least
    ``merge_threshold`` alike, then turn clusters under ``min_cluster_size`` into noise. ``progress`` (the
    embedding module's Progress) gets one labelled step per stage."""
    clusterer = plugins.registry("clusterers").create(method, min_cluster_size=min_cluster_size)
    if len(vectors) < 2:
        return Clustering(np.full(len(vectors), NOISE, dtype=int), method, 0)

    def step(description: str) -> None:
        if progress is not None:
            progress.start(1, description)

    if umap_applies(len(vectors), umap_dim):
        step(f"reducing {len(vectors)} embeddings with UMAP to {umap_dim} dimensions")
    reduced = reduce_umap(vectors, umap_dim, seed=seed)
    step(f"clustering {len(vectors)} embeddings ({method})")
    labels = clusterer.fit(reduced if reduced is not None else vectors).labels_
    if merge_threshold is not None:
        labels = merge_close_clusters(vectors, labels, merge_threshold)
    return Clustering(relabel_by_size(labels, min_cluster_size), method, umap_dim if reduced is not None else 0)
