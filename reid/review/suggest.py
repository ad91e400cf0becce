"""Where the embeddings help the reviewer: clusters that look like one character (merge candidates), a cluster's
faces from its most typical to its least, so strays gather at the end, and a mixed cluster cut into parts."""

from __future__ import annotations

import numpy as np

from reid.review.state import Group

MERGE_CANDIDATES = 5
MAX_PARTS = 8  # a split proposes at most this many parts


def centres(vectors: np.ndarray, groups: list[Group]) -> dict[str, np.ndarray]:
    """Each non-empty group's mean direction (unit length)."""
    out = {}
    for g in groups:
        if g.faces:
            mean = vectors[g.faces].mean(axis=0)
            out[g.key] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


def nearest_groups(vectors: np.ndarray, groups: list[Group], key: str, k: int = MERGE_CANDIDATES) -> list[tuple[str, float]]:
    """The ``k`` other clusters whose centres are most similar to ``key``'s (cosine), best first; noise and
    clusters marked not a character are no candidates."""
    candidates = [g for g in groups if g.key != key and not g.noise and not g.not_character]
    found = centres(vectors, candidates + [g for g in groups if g.key == key])
    if key not in found or not candidates:
        return []
    keys = [g.key for g in candidates if g.key in found]
    scores = np.stack([found[c] for c in keys]) @ found[key]
    return [(keys[j], float(scores[j])) for j in np.argsort(-scores)[:k]]


def typical_first(vectors: np.ndarray, group: Group) -> list[tuple[int, float]]:
    """The group's faces with their similarity to its centre, most typical first."""
    if not group.faces:
        return []
    centre = centres(vectors, [group])[group.key]
    scores = vectors[group.faces] @ centre
    return [(group.faces[j], float(scores[j])) for j in np.argsort(-scores, kind="stable")]


def split_parts(vectors: np.ndarray, group: Group, parts: int | None = None) -> list[list[int]]:
    """The group's faces cut into ``parts`` groups (None: the count from 2 to ``MAX_PARTS`` whose cut scores the best
    silhouette), by average-linkage clustering on cosine distance; largest part first, each part's faces in the
    group's order. The same faces always give the same parts, so a preview and the split it applies agree."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    faces = list(group.faces)
    if len(faces) < 2:
        return [faces]
    x = vectors[faces].astype(np.float64)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def cut(k: int) -> np.ndarray:
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(x)

    if parts is None:
        tried = {k: cut(k) for k in range(2, min(MAX_PARTS, len(faces) - 1) + 1)}
        scored = {k: silhouette_score(x, labels, metric="cosine") for k, labels in tried.items() if len(set(labels)) > 1}
        labels = tried[max(scored, key=scored.get)] if scored else cut(2)
    else:
        labels = cut(max(2, min(int(parts), len(faces))))
    members = [[f for f, label in zip(faces, labels) if label == c] for c in sorted(set(labels.tolist()))]
    return sorted(members, key=lambda m: (-len(m), m[0]))

