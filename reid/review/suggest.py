"""Where the embeddings help the reviewer: clusters that look like one character (merge candidates), and a
cluster's faces from its most typical to its least, so strays gather at the end."""

from __future__ import annotations

import numpy as np

from reid.review.state import Group

MERGE_CANDIDATES = 5


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
