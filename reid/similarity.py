"""Comparing two images: with a detector, the best-matching pair of faces decides."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.detectors.base import Detector, crop
from reid.encoders.base import Encoder
from reid.errors import ReidError
from reid.images import load_image


def _faces(image_path: Path, detector: Detector | None) -> tuple[list, list]:
    image = load_image(image_path)
    if detector is None:
        return [image], [None]
    boxes = detector.detect(image)
    if not boxes:
        raise ReidError(f"{image_path}: {detector.name} found no face; try --detector whole for a face crop, "
                        "or a more permissive detector setting")
    return [crop(image, box, detector.margin) for box in boxes], boxes


def compare(encoder: Encoder, image_a: Path, image_b: Path, *, threshold: float | None = None,
            detector: Detector | None = None) -> dict:
    threshold = encoder.threshold if threshold is None else float(threshold)
    (faces_a, boxes_a), (faces_b, boxes_b) = _faces(image_a, detector), _faces(image_b, detector)
    vectors = encoder.embed(faces_a + faces_b)
    scores = vectors[: len(faces_a)] @ vectors[len(faces_a):].T
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    score = float(scores[i, j])
    result = {"image_a": str(image_a), "image_b": str(image_b), "encoder": encoder.name,
              "score": score, "threshold": threshold, "same": score >= threshold}
    if detector is not None:
        result.update({"detector": detector.name, "faces_a": len(faces_a), "faces_b": len(faces_b),
                       "box_a": boxes_a[i].to_json(), "box_b": boxes_b[j].to_json()})
    return result
