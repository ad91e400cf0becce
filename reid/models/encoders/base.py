"""The Encoder template: ``embed()`` owns batching, device, no_grad and normalisation.

A subclass implements ``forward(batch)`` (a float tensor N x 3 x S x S, already resized and
normalised with the encoder's mean/std) and returns N x D features.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from reid.device import resolve_device

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Encoder(abc.ABC):
    name: str = "encoder"
    #: cosine similarity at or above which two faces are called the same character
    threshold: float = 0.5
    input_size: int = 224
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    embedding_dim: int = 0
    #: also embed the mirror image and average the two (test-time augmentation; twice the compute)
    flip: bool = False
    #: how pairs of unseen characters score (``reid.models.encoders.config.score_calibration``); None if unknown
    score_calibration: dict | None = None

    def __init__(self, *, device: str | None = None, batch_size: int = 32, threshold: float | None = None,
                 flip: bool | None = None):
        self.device = resolve_device(device)
        self.batch_size = max(1, int(batch_size))
        if threshold is not None:
            self.threshold = float(threshold)
        if flip is not None:
            self.flip = bool(flip)

    @abc.abstractmethod
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Features for a preprocessed batch (N x 3 x S x S on ``self.device``)."""

    def identity(self) -> dict[str, Any]:
        """What must match for saved embeddings to be reused (name, version, weights...)."""
        return {"encoder": self.name, "input_size": self.input_size, "dim": self.embedding_dim,
                **({"flip": True} if self.flip else {})}

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB").resize((self.input_size, self.input_size), Image.Resampling.BILINEAR)
        tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)
        return (tensor - mean) / std

    def embed(self, images: Iterable[Image.Image], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per image, in order."""
        chunks: list[np.ndarray] = []
        batch: list[torch.Tensor] = []
        for image in images:
            batch.append(self.preprocess(image))
            if len(batch) == self.batch_size:
                chunks.append(self._embed_batch(batch))
                progress and progress(len(batch))
                batch = []
        if batch:
            chunks.append(self._embed_batch(batch))
            progress and progress(len(batch))
        if not chunks:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)

    def run_network(self, pixels: torch.Tensor) -> torch.Tensor:
        """``forward``, or the same network on a faster backend (``reid.models.encoders.onnx_backend``)."""
        return self.forward(pixels)

    @torch.no_grad()
    def _embed_batch(self, batch: list[torch.Tensor]) -> np.ndarray:
        pixels = torch.stack(batch).to(self.device)
        if self.flip:  # the mirror images in the same call: one larger batch is cheaper than two
            pixels = torch.cat([pixels, pixels.flip(-1)])
        features = F.normalize(self.run_network(pixels).float().flatten(1), dim=1)
        if self.flip:
            features = F.normalize(features[:len(batch)] + features[len(batch):], dim=1)
        return features.cpu().numpy()


class TorchEncoder(Encoder):
    """An encoder whose ``forward`` is one ``nn.Module``, moved to the device and put in eval mode."""

    def __init__(self, module: torch.nn.Module, **kwargs: Any):
        super().__init__(**kwargs)
        self.module = module.to(self.device).eval()

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module(batch)
