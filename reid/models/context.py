"""Context beyond the face: ``body`` adds an embedding of the region below each face, where the
clothing is, so that characters who share a face style but not an outfit separate.

The face and the body crop are embedded by the same encoder, each L2-normalised, and concatenated with
weights (``--weights FACE,BODY``): the fused cosine is the weighted mean of the face and body cosines.
A face with no room below it (at the image's bottom edge) gets a zero body part: its body counts as
cosine 0, so its scores lean towards "different" rather than borrowing evidence it does not have.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
from PIL import Image

from reid.models.contract import embed_checked
from reid.models.detectors.base import Box, Detector, crop
from reid.models.encoders.fusion import concatenate, fusion_scales
from reid.errors import ReidError

if TYPE_CHECKING:
    from reid.models.encoders.base import Encoder

CONTEXTS = ("face", "body")
# The body region in face sizes: 2 face widths wide (shoulders), centred on the face, and 2 face heights
# tall from the chin down (collar and chest).
BODY_WIDTH, BODY_HEIGHT = 2.0, 2.0
MIN_BODY_HEIGHT = 0.5  # in face heights: a thinner strip at the image's edge is neck, not clothing


@dataclass(frozen=True)
class BodyContext:
    face_weight: float = 1.0
    body_weight: float = 1.0

    def region(self, face: Box, width: int, height: int) -> Box | None:
        """The clothing below ``face``, clipped to the image; None when too little of it is in the image."""
        w, h = face.right - face.left, face.bottom - face.top
        centre = (face.left + face.right) / 2
        body = Box(max(0, round(centre - BODY_WIDTH * w / 2)), face.bottom,
                   min(width, round(centre + BODY_WIDTH * w / 2)), min(height, round(face.bottom + BODY_HEIGHT * h)))
        return body if body.bottom - body.top >= MIN_BODY_HEIGHT * h and body.right > body.left else None

    def identity(self) -> dict:
        return {"context": "body", "weights": [self.face_weight, self.body_weight],
                "region": [BODY_WIDTH, BODY_HEIGHT, MIN_BODY_HEIGHT]}

    def embed(self, encoder: "Encoder", views: Iterable[tuple[Image.Image, Image.Image | None]]) -> np.ndarray:
        """Fused embeddings for (face crop, body crop or None) pairs, one row each, in order."""
        scales = fusion_scales([self.face_weight, self.body_weight])
        chunks, views = [], iter(views)
        while chunk := list(itertools.islice(views, encoder.batch_size)):
            faces = embed_checked(encoder, [face for face, _ in chunk])
            bodies = np.zeros_like(faces)
            present = [k for k, (_, body) in enumerate(chunk) if body is not None]
            if present:
                bodies[present] = embed_checked(encoder, [chunk[k][1] for k in present])
            chunks.append(concatenate([faces, bodies], scales))
        if not chunks:
            return np.zeros((0, 2 * encoder.embedding_dim), dtype=np.float32)
        return np.concatenate(chunks)


def body_views(image: Image.Image, boxes: list[Box], detector: Detector,
               context: BodyContext) -> Iterator[tuple[Image.Image, Image.Image | None]]:
    for box in boxes:
        body = context.region(box, image.width, image.height)
        yield crop(image, box, detector.margin), None if body is None else image.crop(body.to_json())


def parse_weights(text: str) -> tuple[float, float]:
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        weights = ()
    if len(weights) != 2 or min(weights) < 0 or max(weights) == 0:
        raise ReidError(f"--weights {text!r}: expected FACE,BODY, two non-negative numbers, not both 0 (e.g. 1.0,1.0)")
    return weights  # type: ignore[return-value]


def make_context(name: str | None, weights: str | None, detector: Detector | None) -> BodyContext | None:
    """The context for ``--context NAME --weights FACE,BODY``; None for the face alone."""
    if name is not None and name not in CONTEXTS:
        raise ReidError(f"unknown context {name!r}; choose one of: {', '.join(CONTEXTS)}")
    if name in (None, "face"):
        if weights is not None:
            raise ReidError("--weights needs --context body (they weigh the face against the body)")
        return None
    if detector is None or detector.name == "whole":
        raise ReidError("--context body needs a face detector (e.g. --detector animeface): "
                        "the body is the region below each face found in a whole illustration")
    return BodyContext(*parse_weights(weights or "1.0,1.0"))
