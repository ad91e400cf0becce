"""Comparing two images: with a detector, the best-matching pair of faces decides."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.context import BodyContext
from reid.detectors.base import Detector
from reid.embedding import Embedded, embed_paths
from reid.encoders.base import Encoder
from reid.errors import ReidError


def _faces(encoder: Encoder, image_path: Path, detector: Detector | None, context: BodyContext | None) -> Embedded:
    embedded = embed_paths(encoder, [image_path], detector=detector, context=context)
    if embedded.failures:
        raise embedded.failures[0]
    if embedded.no_face:
        raise ReidError(f"{image_path}: {detector.name} found no face; try --detector whole for a face crop, "
                        "or a more permissive detector setting")
    return embedded


def compare(encoder: Encoder, image_a: Path, image_b: Path, *, threshold: float | None = None,
            detector: Detector | None = None, context: BodyContext | None = None) -> dict:
    threshold = encoder.threshold if threshold is None else float(threshold)
    a, b = _faces(encoder, image_a, detector, context), _faces(encoder, image_b, detector, context)
    scores = a.vectors @ b.vectors.T
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    score = float(scores[i, j])
    result = {"image_a": str(image_a), "image_b": str(image_b), "encoder": encoder.name,
              "score": score, "threshold": threshold, "same": score >= threshold}
    if detector is not None:
        result.update({"detector": detector.name, "faces_a": len(a.paths), "faces_b": len(b.paths),
                       "box_a": a.boxes[i].to_json(), "box_b": b.boxes[j].to_json()})
    if context is not None:
        result["context"] = context.identity()
    return result
