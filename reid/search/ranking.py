"""Scoring a face against the enrolled characters, in the three classify modes.

``Any``: a character's score is its best single reference. ``Avg``: the mean cosine over its
references (the inner product with the mean of its normalised embeddings). ``Head``: the classifier
head fitted on the references picks the character; its score multiplies the square root of the head's
probability with the mean of that character's Any and Avg cosines. The head alone is overconfident on
a face it never saw, the cosines alone ignore what the head learned: on held-out strangers the product
told enrolled characters from strangers better than either (AUROC 0.84 against 0.80 on animeface10).
"""

from __future__ import annotations


import numpy as np

from reid.choices import Mode
from reid.search.head import CharacterHead
from reid.search.index import ReferenceIndex

ANY_SEARCH_DEPTH = 256  # neighbours searched per target: enough to find the runner-up character
HEAD_RANKED = 5  # characters listed per face in Head mode (the best and runners-up)

Ranking = list[tuple[str, float]]  # (character, score), best first


def _best_reference(index: ReferenceIndex, queries: np.ndarray) -> list[dict[str, float]]:
    """Per query, each character found among its nearest references with its best score, best first."""
    scores, ids = index.search(queries, ANY_SEARCH_DEPTH)
    found = []
    for score_row, id_row in zip(scores, ids):
        best: dict[str, float] = {}
        found_ids = id_row >= 0
        for score, name in zip(score_row[found_ids], index.label_of(id_row[found_ids])):
            best.setdefault(name, float(score))  # results come sorted: first is the best
        found.append(best)
    return found


def rank_characters(index: ReferenceIndex, queries: np.ndarray, mode: Mode,
                    head: CharacterHead | None = None) -> list[Ranking]:
    """Per query, (character, score) best first: all characters for Avg, those found nearby for Any, the
    head's most probable few for Head."""
    mode = Mode(mode)
    if mode == Mode.any:
        return [list(best.items()) for best in _best_reference(index, queries)]
    names, centroids = index.centroids()
    stored = index.project(queries)  # a compact index's centroids and head live in its projected space
    mean_scores = stored @ centroids.T
    if mode == Mode.avg:
        order = np.argsort(-mean_scores, axis=1)
        return [[(names[j], float(mean_scores[i, j])) for j in row] for i, row in enumerate(order)]
    if head is None:
        raise ValueError("Head mode needs the fitted head")
    column = {name: j for j, name in enumerate(names)}
    proba = head.predict_proba(stored)
    ranked = []
    for i, best in enumerate(_best_reference(index, queries)):
        out = []
        for k in np.argsort(-proba[i])[:HEAD_RANKED]:
            name = str(head.classes_[k])
            mean = float(mean_scores[i, column[name]])
            nearest = best.get(name, mean)  # not among the nearest references: its mean is the closer estimate
            out.append((name, float(np.sqrt(proba[i, k]) * (nearest + mean) / 2)))
        ranked.append(out)
    return ranked
