"""The field's metrics: leave-one-out top-1, verification EER and F1, clustering AMI / NMI / ARI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from reid.search.index import ReferenceIndex


def nearest_others(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the nearest other row and its cosine score."""
    index = ReferenceIndex.build(vectors, [""] * len(vectors))
    scores, ids = index.search(vectors, 2)
    own = ids[:, 0] == np.arange(len(vectors))  # duplicates may outrank the image itself
    return np.where(own, ids[:, 1], ids[:, 0]), np.where(own, scores[:, 1], scores[:, 0])


def leave_one_out_top1(vectors: np.ndarray, labels: list[str]) -> float:
    """Share of images whose nearest other image has the same label."""
    neighbours, _ = nearest_others(vectors)
    return float(np.mean([labels[j] == label for label, j in zip(labels, neighbours)]))


def score_histogram(scores: np.ndarray, same: np.ndarray, bins: int = 40, weights: np.ndarray | None = None) -> dict[str, list]:
    """Same-label and different-label pair counts over shared bins (the verification score distributions);
    with ``weights`` (sampled pairs), the counts estimated for the whole set."""
    lo, hi = (float(scores.min()), float(scores.max())) if scores.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)

    def counts(mask: np.ndarray) -> list:
        found = np.histogram(scores[mask], edges, weights=None if weights is None else weights[mask])[0]
        return np.rint(found).astype(int).tolist()

    return {"edges": edges.tolist(), "same": counts(same), "different": counts(~same)}


def pair_scores(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine score and same-label flag for every unordered pair."""
    codes = np.unique(labels, return_inverse=True)[1]
    rows, cols = np.triu_indices(len(labels), k=1)
    scores = (vectors @ vectors.T)[rows, cols]  # the n x n Gram matrix is far smaller than n^2/2 row pairs
    return scores.astype(np.float64), codes[rows] == codes[cols]


#: Above this many unordered pairs (about 3,200 faces), verification metrics are estimated from a sample.
MAX_PAIRS = 5_000_000


@dataclass
class Pairs:
    """Verification pairs: scores, same-label flags and, when sampled, the weight of each pair (how many pairs
    of the whole set it stands for), which every metric below takes, so estimates stay unbiased."""

    scores: np.ndarray
    same: np.ndarray
    weights: np.ndarray | None
    total: int  # unordered pairs in the whole set

    @property
    def sampled(self) -> bool:
        return self.weights is not None

    def describe(self) -> dict[str, int | bool]:
        return {"pairs": self.total, "scored": len(self.scores), "sampled": self.sampled}


def _all_same(members: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of two members of one label (``members``: the indices of each label)."""
    rows, cols = [], []
    for group in members:
        a, b = np.triu_indices(len(group), k=1)
        rows.append(group[a])
        cols.append(group[b])
    return np.concatenate(rows), np.concatenate(cols)


def _sample_same(members: list[np.ndarray], k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` pairs drawn uniformly (with replacement) among the pairs of two members of one label."""
    sizes = np.array([len(m) for m in members], dtype=np.float64)
    weight = sizes * (sizes - 1) / 2
    chosen = rng.choice(len(members), size=k, p=weight / weight.sum())
    rows, cols = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    for c in np.unique(chosen):
        at = np.flatnonzero(chosen == c)
        first = rng.integers(0, len(members[c]), len(at))
        second = (first + rng.integers(1, len(members[c]), len(at))) % len(members[c])  # never the same member
        rows[at], cols[at] = members[c][first], members[c][second]
    return rows, cols


def _sample_different(codes: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` pairs drawn uniformly (with replacement) among the pairs of two different labels."""
    rows, cols = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    while len(rows) < k:
        a, b = rng.integers(0, len(codes), 2 * k), rng.integers(0, len(codes), 2 * k)
        keep = codes[a] != codes[b]
        rows, cols = np.concatenate([rows, a[keep]]), np.concatenate([cols, b[keep]])
    return rows[:k], cols[:k]


def _row_dots(vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Cosine of each (row, col) pair, a chunk at a time: the gathered vectors of millions of pairs would not fit."""
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), chunk):
        end = start + chunk
        out[start:end] = np.einsum("ij,ij->i", vectors[rows[start:end]], vectors[cols[start:end]])
    return out


def rows_per_label(labels: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each row's label as a code (labels sorted), and the row indices of each label, from one stable sort: a scan
    per label would be quadratic with many labels."""
    _, codes = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    return codes, (np.split(order, np.flatnonzero(np.diff(codes[order])) + 1) if len(order) else [])


def verification_pairs(vectors: np.ndarray, labels: list[str], *, max_pairs: int = MAX_PAIRS, seed: int = 0) -> Pairs:
    """Every unordered pair up to ``max_pairs``; beyond, ``max_pairs`` pairs: every same-label pair when they
    fit in half of them, else half drawn from them, and the rest drawn from the different-label pairs
    (stratified: same-label pairs are rare among many characters), each weighted by how many pairs of its kind
    it stands for. Never builds an n x n matrix then."""
    n = len(labels)
    total = n * (n - 1) // 2
    if total <= max_pairs:
        scores, same = pair_scores(vectors, labels)
        return Pairs(scores, same, None, total)
    codes, members = rows_per_label(labels)
    sizes = np.bincount(codes)
    same_total = int((sizes * (sizes - 1) // 2).sum())
    rng = np.random.default_rng(seed)
    if same_total <= max_pairs // 2:
        same_pairs = _all_same(members) if same_total else (np.empty(0, np.int64), np.empty(0, np.int64))
    else:
        same_pairs = _sample_same(members, max_pairs // 2, rng)
    parts = [(same_pairs, True, same_total)]
    if total > same_total:  # one label only: there is no different-label pair to draw
        parts.append((_sample_different(codes, max_pairs - len(same_pairs[0]), rng), False, total - same_total))
    scores, same, weights = [], [], []
    for (rows, cols), is_same, count in parts:
        scores.append(_row_dots(vectors, rows, cols))
        same.append(np.full(len(rows), is_same))
        weights.append(np.full(len(rows), count / max(1, len(rows))))
    return Pairs(np.concatenate(scores), np.concatenate(same), np.concatenate(weights), total)


def equal_error_rate(scores: np.ndarray, same: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """(EER, the threshold where false accepts and false rejects are equal)."""
    fpr, tpr, thresholds = skm.roc_curve(same, scores, sample_weight=weights)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2), float(min(thresholds[i], 1.0))


def verification_at(scores: np.ndarray, same: np.ndarray, threshold: float,
                    weights: np.ndarray | None = None) -> dict[str, float]:
    predicted = scores >= threshold
    precision, recall, f1, _ = skm.precision_recall_fscore_support(same, predicted, average="binary", zero_division=0,
                                                                   sample_weight=weights)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def best_f1(scores: np.ndarray, same: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """The highest F1 over all thresholds, and where it lies (how CCIP-style models report F1)."""
    precision, recall, thresholds = skm.precision_recall_curve(same, scores, sample_weight=weights)
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


SCORE_QUANTILES = 101  # every percent: what a config keeps of the calibration pairs' scores


def score_quantiles(scores: np.ndarray, same: np.ndarray) -> dict[str, list[float]]:
    """Same- and different-character pair scores as percentiles (0 %, 1 %, ..., 100 %)."""
    steps = np.linspace(0, 1, SCORE_QUANTILES)
    return {kind: [round(float(q), 4) for q in np.quantile(scores[mask], steps)]
            for kind, mask in (("same", same), ("different", ~same))}


def share_below(score: float, quantiles: list[float]) -> float:
    """Share of the pairs that ``quantiles`` describe scoring below ``score`` (read off the percentiles)."""
    return float(np.interp(score, quantiles, np.linspace(0, 1, len(quantiles)), left=0.0, right=1.0))
