"""Clusterers follow scikit-learn's conventions: ``fit(X)`` returns self and sets ``labels_`` (-1 = noise).

Every factory takes ``min_cluster_size`` so the pipeline can drive them alike.
"""

from __future__ import annotations

import numpy as np


class Clusterer:
    labels_: np.ndarray

    def __init__(self, min_cluster_size: int = 5, **params):
        self.min_cluster_size = int(min_cluster_size)
        self.params = params

    def fit(self, X: np.ndarray) -> "Clusterer":
        self.labels_ = np.asarray(self._fit_predict(np.asarray(X, dtype=np.float64)), dtype=int)
        return self

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).labels_

    def _fit_predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class HDBSCANClusterer(Clusterer):
    def _fit_predict(self, X):
        import hdbscan

        size = max(2, self.min_cluster_size)
        return hdbscan.HDBSCAN(min_cluster_size=size, **self.params).fit_predict(X)


def k_distance_eps(X: np.ndarray, k: int) -> float:
    """DBSCAN's eps from the k-distance curve (Ester et al., 1996): sort every point's distance to its k-th neighbour
    and take the knee, the point farthest below the chord from the smallest to the largest distance."""
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(k, len(X) - 1))
    distances = np.sort(NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[0][:, k])
    if len(distances) < 3 or distances[-1] <= distances[0]:
        return float(distances[-1]) or 0.5
    x = np.linspace(0.0, 1.0, len(distances))
    y = (distances - distances[0]) / (distances[-1] - distances[0])
    return float(distances[int(np.argmax(x - y))])


class DBSCANClusterer(Clusterer):
    """``eps="auto"`` (the default) reads it off the k-distance curve with k = min_samples; ``eps_`` records it."""

    def _fit_predict(self, X):
        from sklearn.cluster import DBSCAN

        params = {"eps": "auto", "min_samples": self.min_cluster_size, **self.params}
        if params["eps"] == "auto":
            params["eps"] = k_distance_eps(X, params["min_samples"])
        self.eps_ = float(params["eps"])
        return DBSCAN(**params).fit_predict(X)


class OPTICSClusterer(Clusterer):
    def _fit_predict(self, X):
        from sklearn.cluster import OPTICS

        size = max(2, self.min_cluster_size)
        params = {"min_samples": size, "min_cluster_size": size, **self.params}
        return OPTICS(**params).fit_predict(X)


class AgglomerativeClusterer(Clusterer):
    """Average-linkage on cosine distance, cut at ``distance_threshold``; small clusters become noise."""

    def _fit_predict(self, X):
        from sklearn.cluster import AgglomerativeClustering

        if len(X) < 2:
            return np.zeros(len(X), dtype=int)
        params = {"distance_threshold": 0.5, "linkage": "average", "metric": "cosine", **self.params}
        labels = AgglomerativeClustering(n_clusters=None, **params).fit_predict(X)
        sizes = np.bincount(labels)
        return np.where(sizes[labels] >= self.min_cluster_size, labels, -1)


class KnnGraphClusterer(Clusterer):
    """Connected parts of the k-nearest-neighbour graph (faiss): an edge wherever one face is among the other's
    ``k`` nearest and the two are at least ``threshold`` alike (cosine). Memory grows with n x k, not n x n, and
    there is no UMAP to run first: for 100,000 faces and more (``--umap-dim 0``)."""

    def __init__(self, min_cluster_size: int = 5, k: int = 10, threshold: float = 0.8, **params):
        super().__init__(min_cluster_size, **params)
        self.k, self.threshold = int(k), float(threshold)

    def _fit_predict(self, X):
        import faiss
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        x = np.ascontiguousarray(X, dtype=np.float32)
        faiss.normalize_L2(x)
        k = min(self.k + 1, len(x))
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        scores, neighbours = index.search(x, k)  # row i finds itself first
        rows = np.repeat(np.arange(len(x)), k)
        cols, sims = neighbours.ravel(), scores.ravel()
        keep = (cols >= 0) & (cols != rows) & (sims >= self.threshold)
        graph = coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])), shape=(len(x),) * 2)
        _, labels = connected_components(graph.tocsr(), directed=False)
        return labels  # parts under min_cluster_size become noise in the pipeline
