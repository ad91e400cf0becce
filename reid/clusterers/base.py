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


class DBSCANClusterer(Clusterer):
    def _fit_predict(self, X):
        from sklearn.cluster import DBSCAN

        params = {"eps": 0.5, "min_samples": self.min_cluster_size, **self.params}
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
