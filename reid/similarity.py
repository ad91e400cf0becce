"""Comparing two images."""

from __future__ import annotations

from pathlib import Path

from reid.encoders.base import Encoder
from reid.images import load_image


def compare(encoder: Encoder, image_a: Path, image_b: Path, *, threshold: float | None = None) -> dict:
    threshold = encoder.threshold if threshold is None else float(threshold)
    a, b = encoder.embed([load_image(image_a), load_image(image_b)])
    score = float(a @ b)
    return {"image_a": str(image_a), "image_b": str(image_b), "encoder": encoder.name,
            "score": score, "threshold": threshold, "same": score >= threshold}
