"""When is a face none of the enrolled characters? A threshold calibrated on the enrollment itself.

Each of a few folds leaves some characters out entirely (they play strangers) and holds back some
references of the others (they play new pictures of enrolled characters); what is left is enrolled
and both kinds are scored exactly as ``classify`` scores them. The threshold is the equal-error point
of the two: as many enrolled faces called ``unknown`` as strangers let through. No validation
folder is needed, and the threshold fits this enrollment's number of characters and references.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np

from reid.search.head import CharacterHead
from reid.search.index import ReferenceIndex
from reid.search.metrics import equal_error_rate
from reid.search.ranking import Mode, rank_characters

FOLDS = 5
LEAVE_ONE_OUT_UP_TO = 10  # characters: each fold then leaves one out, so its gallery is as close to the real one as can be
MAX_CHARACTERS = 200  # a sample of a large enrollment: the folds refit the head, which grows with characters
MAX_REFERENCES = 20  # per character, for the same reason


@dataclass
class Calibration:
    threshold: float | None  # None: the enrollment is too small to calibrate on (see reason)
    known_kept: float = 0.0  # share of held-back references of enrolled characters scoring at least the threshold
    strangers_rejected: float = 0.0  # share of left-out characters' references scoring under it
    known_named: float = 0.0  # share of held-back references named right and scoring at least the threshold
    auroc: float = 0.0  # how well the score tells the two apart, over all thresholds
    known: int = 0
    strangers: int = 0
    reason: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "Calibration | None":
        """The saved calibration; ValueError when a field is missing or of the wrong type (a file edited by hand)."""
        if not isinstance(data, dict):
            return None
        calibration = cls(**data)
        numbers = [calibration.known_kept, calibration.strangers_rejected, calibration.auroc, calibration.known,
                   calibration.strangers] + ([] if calibration.threshold is None else [calibration.threshold])
        if not all(type(v) in (int, float) for v in numbers) or not isinstance(calibration.reason, str):
            raise ValueError(f"calibration fields of the wrong type: {data}")
        return calibration


def _folds(labels: np.ndarray, folds: int, rng: np.random.Generator) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(enrolled, held-back, stranger) row indices per fold."""
    characters = rng.permutation(np.unique(labels))
    rows = {c: rng.permutation(np.flatnonzero(labels == c)) for c in characters}
    for f in range(min(folds, len(characters))):
        strangers = set(characters[f::folds])
        enrolled, held, stranger = [], [], []
        for c in characters:
            mine = rows[c]
            if c in strangers:
                stranger += list(mine)
                continue
            back = mine[f::folds] if len(mine) > f else mine[f % len(mine):][:1]
            if len(back) == len(mine):  # a character keeps at least one reference; a single one plays no query
                back = back[1:] if len(mine) > 1 else back[:0]
            held += list(back)
            enrolled += list(np.setdiff1d(mine, back))
        yield np.array(enrolled, dtype=int), np.array(held, dtype=int), np.array(stranger, dtype=int)


def calibration_folds(characters: int, folds: int = FOLDS) -> int:
    """How many folds ``calibrate`` makes for an enrollment of this many characters."""
    return characters if characters <= LEAVE_ONE_OUT_UP_TO else folds


def calibrate(views: np.ndarray, labels: list[str], modes: Iterable[Mode], *, folds: int = FOLDS,
              seed: int = 0, refit: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[Mode, Calibration]:
    """Per mode the unknown threshold. ``views``: references x views x dim, view 0 the image itself (the
    head trains on all views, the index holds view 0). ``refit(rows)``: every reference's views again, as an
    encoder adapted to the references ``rows`` alone embeds them (each fold's strangers must be strangers
    to the encoder too)."""
    from sklearn.metrics import roc_auc_score

    modes = [Mode(m) for m in modes]
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    keep = np.zeros(len(labels), dtype=bool)
    characters = np.unique(labels)
    for c in rng.permutation(characters)[:MAX_CHARACTERS]:
        keep[rng.permutation(np.flatnonzero(labels == c))[:MAX_REFERENCES]] = True
    views, labels, kept = views[keep], labels[keep], np.flatnonzero(keep)
    if len(characters) < 2:
        return {m: Calibration(None, reason="one enrolled character: nobody to play the stranger") for m in modes}
    scores: dict[Mode, list[float]] = {m: [] for m in modes}
    right: dict[Mode, list[bool]] = {m: [] for m in modes}
    known: list[bool] = []
    folds = calibration_folds(len(characters), folds)
    for enrolled, held, stranger in _folds(labels, folds, rng):
        if not len(held):
            continue
        if refit is not None:
            views = refit(kept[enrolled])[keep]
        index = ReferenceIndex.build(views[enrolled, 0], labels[enrolled].tolist())
        head = None
        if Mode.head in modes:
            head = CharacterHead().fit(views[enrolled].reshape(-1, views.shape[2]),
                                       np.repeat(labels[enrolled], views.shape[1]).tolist())
        queries = views[np.r_[held, stranger], 0]
        truth = labels[np.r_[held, stranger]]
        for mode in modes:
            ranked = rank_characters(index, queries, mode, head)
            scores[mode] += [r[0][1] for r in ranked]
            right[mode] += [r[0][0] == t for r, t in zip(ranked, truth)]
        known += [True] * len(held) + [False] * len(stranger)
    known_flags = np.array(known, dtype=bool)
    if not known_flags.any():
        return {m: Calibration(None, reason="every character has a single reference: none can be held back")
                for m in modes}
    out = {}
    for mode in modes:
        if mode == Mode.head and len(characters) < 3:  # measured on keima3: 99 % of strangers unknown, 50 % of enrolled faces
            out[mode] = Calibration(None, reason="two characters: each fold would enroll one, and a head over one "
                                                  "character is certain of everything")
            continue
        values = np.array(scores[mode])
        _, threshold = equal_error_rate(values, known_flags)
        named = (values >= threshold) & np.array(right[mode], dtype=bool)
        out[mode] = Calibration(threshold, float(np.mean(values[known_flags] >= threshold)),
                                float(np.mean(values[~known_flags] < threshold)), float(np.mean(named[known_flags])),
                                float(roc_auc_score(known_flags, values)), int(known_flags.sum()),
                                int((~known_flags).sum()))
    return out
