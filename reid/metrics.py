"""The field's metrics: leave-one-out top-1, verification EER and F1, clustering AMI / NMI / ARI."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from reid.index import ReferenceIndex


def leave_one_out_top1(vectors: np.ndarray, labels: list[str]) -> float:
    """Share of images whose nearest other image has the same label."""
    index = ReferenceIndex.build(vectors, labels, [""] * len(labels))
    _, ids = index.search(vectors, 2)
    hits = 0
    for i, row in enumerate(ids):
        neighbour = row[1] if row[0] == i else row[0]  # duplicates may outrank the image itself
        hits += labels[neighbour] == labels[i]
    return hits / len(labels)


def pair_scores(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine score and same-label flag for every unordered pair."""
    codes = np.unique(labels, return_inverse=True)[1]
    rows, cols = np.triu_indices(len(labels), k=1)
    scores = (vectors @ vectors.T)[rows, cols]  # the n x n Gram matrix is far smaller than n^2/2 row pairs
    return scores.astype(np.float64), codes[rows] == codes[cols]


def equal_error_rate(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(EER, the threshold where false accepts and false rejects are equal)."""
    fpr, tpr, thresholds = skm.roc_curve(same, scores)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2), float(min(thresholds[i], 1.0))


def verification_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = scores >= threshold
    precision, recall, f1, _ = skm.precision_recall_fscore_support(same, predicted, average="binary", zero_division=0)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def clustering_scores(true: list[str], predicted: np.ndarray) -> dict[str, float]:
    """AMI / NMI / ARI, each noise point counted as a cluster of its own (unassigned, not one big cluster)."""
    predicted = np.asarray(predicted).copy()
    noise = predicted < 0
    predicted[noise] = predicted.max(initial=0) + 1 + np.arange(noise.sum())
    return {
        "ami": float(skm.adjusted_mutual_info_score(true, predicted)),
        "nmi": float(skm.normalized_mutual_info_score(true, predicted)),
        "ari": float(skm.adjusted_rand_score(true, predicted)),
    }
