"""Comparing two images: with a detector, the best-matching pair of faces decides."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.models.context import BodyContext
from reid.models.detectors.base import Detector
from reid.models.embedding import Embedded, embed_paths
from reid.choices import NoFace
from reid.models.encoders.base import Encoder
from reid.errors import ReidError
from reid.search.metrics import share_below

BORDERLINE = 0.10  # a verdict is borderline when at least this share of the other kind of pair scores that way


def _faces(encoder: Encoder, image_path: Path, detector: Detector | None, context: BodyContext | None,
           no_face: NoFace) -> Embedded:
    embedded = embed_paths(encoder, [image_path], detector=detector, context=context, no_face=no_face)
    if embedded.failures:
        raise embedded.failures[0]
    if not embedded.paths:
        raise ReidError(f"{image_path}: {detector.name} found no face; try --no-face whole to compare the whole "
                        "image, or a more permissive detector setting")
    return embedded


def _box(embedded: Embedded, i: int) -> list[int] | None:
    box = embedded.boxes[i]
    return None if box is None else box.to_json()


def compare(encoder: Encoder, image_a: Path, image_b: Path, *, threshold: float | None = None,
            detector: Detector | None = None, context: BodyContext | None = None,
            no_face: NoFace = NoFace.skip) -> dict:
    """The best-scoring pair of faces decides; with ``no_face="whole"`` an image without a face counts whole."""
    threshold = encoder.threshold if threshold is None else float(threshold)
    a, b = (_faces(encoder, image, detector, context, no_face) for image in (image_a, image_b))
    scores = a.vectors @ b.vectors.T
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    score = float(scores[i, j])
    result = {"image_a": str(image_a), "image_b": str(image_b), "encoder": encoder.name,
              "score": score, "threshold": threshold, "same": score >= threshold}
    if detector is not None:
        result.update({"detector": detector.name, "faces_a": len(a.paths), "faces_b": len(b.paths),
                       "box_a": _box(a, i), "box_b": _box(b, j), "whole_a": bool(a.whole), "whole_b": bool(b.whole),
                       "no_face_policy": NoFace.skip.value if context is not None else NoFace(no_face).value})
    if context is not None:
        result["context"] = context.identity()
    result.update(certainty(encoder, score, result["same"]))
    return result


def certainty(encoder: Encoder, score: float, same: bool) -> dict:
    """Where ``score`` lies among the encoder's calibration pairs: the share of same-character pairs scoring
    lower and of different-character pairs scoring as high or higher; the verdict is borderline when the pairs
    that would make it wrong are common there. Empty when the encoder ships no calibration scores."""
    calibration = encoder.score_calibration
    if not calibration:
        return {}
    same_below = share_below(score, calibration["same"])
    different_above = 1.0 - share_below(score, calibration["different"])
    wrong = different_above if same else same_below
    return {"same_pairs_below": round(same_below, 4), "different_pairs_at_or_above": round(different_above, 4),
            "borderline": wrong >= BORDERLINE, "calibration_set": calibration.get("set", "")}
