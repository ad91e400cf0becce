"""Weighted concatenation of L2-normalised embeddings (score fusion).

With weights w_i the fused cosine is sum(w_i^2 cos_i) / sum(w_i^2): a weighted mean of the parts' scores.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from PIL import Image

from reid.models.contract import embed_checked
from reid.models.encoders.base import Encoder
from reid.errors import ReidError


def parse_weighted_names(spec: Sequence[str]) -> list[tuple[str, float]]:
    """``["color_texture:0.5", "other"]`` -> [("color_texture", 0.5), ("other", 1.0)]."""
    parts = []
    for item in spec:
        name, _, weight = item.partition(":")
        try:
            parts.append((name.strip(), float(weight) if weight else 1.0))
        except ValueError:
            raise ReidError(f"{item!r}: expected NAME or NAME:WEIGHT (a number)") from None
    return parts


def fusion_scales(weights: Sequence[float]) -> list[float]:
    """Scales for the parts so that the concatenation's cosine is the weighted mean of the parts' cosines."""
    norm = float(np.sqrt(sum(w * w for w in weights)))
    return [w / norm for w in weights]


def concatenate(parts: Sequence[np.ndarray], scales: Sequence[float]) -> np.ndarray:
    """Row-wise concatenation of unit embeddings, each part multiplied by its scale; float32, contiguous."""
    return np.ascontiguousarray(np.hstack([part * scale for part, scale in zip(parts, scales)]), dtype=np.float32)


class FusedEncoder(Encoder):
    """Runs each part on the same images and concatenates their embeddings, each scaled by its weight."""

    def __init__(self, parts: Sequence[tuple[Encoder, float]], *, name: str, threshold: float | None = None,
                 batch_size: int = 32, **kwargs: Any):
        if not parts or any(w <= 0 for _, w in parts):
            raise ReidError(f"{name}: fusion needs at least one part, each with a positive weight")
        self.name = name
        self.parts = list(parts)
        self.embedding_dim = sum(encoder.embedding_dim for encoder, _ in parts)
        self.input_size = max(encoder.input_size for encoder, _ in parts)
        super().__init__(device=str(parts[0][0].device), batch_size=batch_size, threshold=threshold)
        self.scales = fusion_scales([w for _, w in parts])

    def forward(self, batch):  # never called: embed() below hands images to each part
        raise NotImplementedError

    def embed(self, images: Iterable[Image.Image], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        chunks, images = [], iter(images)
        while chunk := list(itertools.islice(images, self.batch_size)):
            chunks.append(concatenate([embed_checked(encoder, chunk) for encoder, _ in self.parts], self.scales))
            progress and progress(len(chunk))
        if not chunks:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)

    def identity(self) -> dict[str, Any]:
        return {"encoder": self.name, "parts": [{**encoder.identity(), "weight": w} for encoder, w in self.parts]}
