"""Sorting target images among enrolled characters.

``Any``: a character's score is its best single reference. ``Avg``: the mean cosine over all of
its references (the inner product with the mean of its normalised embeddings). Below the
threshold the image is ``unknown``; the nearest character is still reported.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from reid.context import BodyContext
from reid.detectors.base import Detector
from reid.embedding import NoProgress, Progress, embed_paths
from reid.encoders.base import Encoder
from reid.enrollment import UNKNOWN
from reid.errors import ImageLoadError
from reid.fileio import copy_without_overwrite, safe_folder_name
from reid.index import ReferenceIndex

ANY_SEARCH_DEPTH = 256  # neighbours searched per target: enough to find the runner-up character


class Mode(str, enum.Enum):
    any = "Any"
    avg = "Avg"


@dataclass
class Match:
    path: str
    character: str  # UNKNOWN when nearest_score < threshold
    score: float
    nearest: str
    runner_up: str | None
    runner_up_score: float | None
    copied_to: str | None = None
    box: list[int] | None = None  # the face, when a detector cut it from the image


@dataclass
class Classification:
    matches: list[Match]
    failures: list[ImageLoadError] = field(default_factory=list)
    threshold: float = 0.0
    mode: str = Mode.any.value
    no_face: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.matches:
            counts[m.character] = counts.get(m.character, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (kv[0] == UNKNOWN, -kv[1], kv[0])))

    def to_json(self) -> dict:
        return {"mode": self.mode, "threshold": self.threshold, "counts": self.counts(),
                "matches": [asdict(m) for m in self.matches],
                "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
                "no_face": [str(p) for p in self.no_face]}


def rank_characters(index: ReferenceIndex, queries: np.ndarray, mode: Mode) -> list[list[tuple[str, float]]]:
    """Per query, (character, score) best first: all characters for Avg, those found nearby for Any."""
    if mode == Mode.avg:
        names, centroids = index.centroids()
        scores = queries @ centroids.T
        order = np.argsort(-scores, axis=1)
        return [[(names[j], float(scores[i, j])) for j in row] for i, row in enumerate(order)]
    scores, ids = index.search(queries, ANY_SEARCH_DEPTH)
    ranked = []
    for score_row, id_row in zip(scores, ids):
        best: dict[str, float] = {}
        for score, ref in zip(score_row, id_row):
            if ref >= 0:
                best.setdefault(index.labels[ref], float(score))  # results come sorted: first is the best
        ranked.append(list(best.items()))
    return ranked


def classify_paths(index: ReferenceIndex, encoder: Encoder, targets: Sequence[Path], *, mode: Mode = Mode.any,
                   threshold: float | None = None, detector: Detector | None = None,
                   context: BodyContext | None = None, progress: Progress | None = None) -> Classification:
    """One match per image, or per face with a ``detector`` (face-less images are listed in ``no_face``)."""
    threshold = encoder.threshold if threshold is None else float(threshold)
    embedded = embed_paths(encoder, targets, progress=progress, description="classifying", detector=detector,
                           context=context)
    matches = []
    if len(embedded.paths):
        for i, ranked in enumerate(rank_characters(index, embedded.vectors, Mode(mode))):
            nearest, score = ranked[0]
            runner_up, runner_up_score = ranked[1] if len(ranked) > 1 else (None, None)
            character = nearest if score >= threshold else UNKNOWN
            entry = embedded.entry(i)
            matches.append(Match(entry["path"], character, score, nearest, runner_up, runner_up_score, box=entry.get("box")))
    return Classification(matches, embedded.failures, threshold, Mode(mode).value, embedded.no_face)


def copy_into_folders(result: Classification, result_dir: Path, *, progress: Progress | None = None) -> None:
    """COPY (never move) each image into ``result_dir/<character>/``; existing files are never overwritten.
    An image with several faces goes into each of its characters' folders once."""
    progress = progress or NoProgress()
    progress.start(len(result.matches), "copying")
    copied: dict[tuple[str, str], str] = {}
    for match in result.matches:
        key = (match.path, match.character)
        if key not in copied:
            copied[key] = str(copy_without_overwrite(Path(match.path), result_dir / safe_folder_name(match.character)))
        match.copied_to = copied[key]
        progress.advance(1)
