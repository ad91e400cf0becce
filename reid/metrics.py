"""The field's metrics: leave-one-out top-1, verification EER and F1, clustering AMI / NMI / ARI."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from reid.index import ReferenceIndex


def nearest_others(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the nearest other row and its cosine score."""
    index = ReferenceIndex.build(vectors, [""] * len(vectors), [""] * len(vectors))
    scores, ids = index.search(vectors, 2)
    own = ids[:, 0] == np.arange(len(vectors))  # duplicates may outrank the image itself
    return np.where(own, ids[:, 1], ids[:, 0]), np.where(own, scores[:, 1], scores[:, 0])


def leave_one_out_top1(vectors: np.ndarray, labels: list[str]) -> float:
    """Share of images whose nearest other image has the same label."""
    neighbours, _ = nearest_others(vectors)
    return float(np.mean([labels[j] == label for label, j in zip(labels, neighbours)]))


def score_histogram(scores: np.ndarray, same: np.ndarray, bins: int = 40) -> dict[str, list]:
    """Same-label and different-label pair counts over shared bins (the verification score distributions)."""
    lo, hi = (float(scores.min()), float(scores.max())) if scores.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
    return {"edges": edges.tolist(), "same": np.histogram(scores[same], edges)[0].tolist(),
            "different": np.histogram(scores[~same], edges)[0].tolist()}


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


def best_f1(scores: np.ndarray, same: np.ndarray) -> dict[str, float]:
    """The highest F1 over all thresholds, and where it lies (how CCIP-style models report F1)."""
    precision, recall, thresholds = skm.precision_recall_curve(same, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    i = int(np.argmax(f1[:-1])) if len(thresholds) else 0  # the last point (recall 0) has no threshold
    return {"f1": float(f1[i]), "threshold": float(thresholds[i]) if len(thresholds) else 1.0,
            "precision": float(precision[i]), "recall": float(recall[i])}


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


def detection_operating_point(marks: list[tuple[float, bool]], faces: int, target: float) -> dict[str, float]:
    """The lowest score threshold at which at least ``target`` of a detector's detections are faces, and the
    recall there. ``marks``: (score, matched a face?) per detection; ``faces``: how many faces there are.
    (threshold 1.0, recall 0.0) when no threshold reaches ``target``."""
    marks = sorted(marks, key=lambda m: -m[0])
    threshold, recall, precision, hits = 1.0, 0.0, 1.0, 0
    for k, (score, hit) in enumerate(marks, 1):
        hits += hit
        # only where the next detection scores lower: tied scores pass or fail a threshold together
        if hits / k >= target and (k == len(marks) or marks[k][0] < score):
            threshold, recall, precision = score, hits / max(1, faces), hits / k
    return {"threshold": float(threshold), "recall": recall, "precision": precision}
