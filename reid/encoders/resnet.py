"""ResNet18 trunk + linear projection, metric-learned (pytorch-metric-learning's trunk/embedder split).

Weights always come from a local file (a plugin directory's state dict); torchvision builds the
architecture only, with ``weights=None``, so nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from reid.encoders.base import TorchEncoder
from reid.errors import PluginError


class MetricNet(nn.Module):
    def __init__(self, embedding_dim: int = 500, arch: str = "resnet18"):
        super().__init__()
        import torchvision

        builders = {"resnet18": torchvision.models.resnet18, "resnet34": torchvision.models.resnet34}
        if arch not in builders:
            raise PluginError(f"unknown trunk {arch!r}; valid trunks: {', '.join(sorted(builders))}")
        self.trunk = builders[arch](weights=None)
        trunk_dim = self.trunk.fc.in_features
        self.trunk.fc = nn.Identity()
        self.embedder = nn.Linear(trunk_dim, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedder(self.trunk(x))


def load_state_dict(weights: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PluginError(f"{weights}: weights file not found") from None
    except Exception as exc:
        raise PluginError(f"{weights}: cannot read weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PluginError(f"{weights}: expected a state dict, found {type(state).__name__}")
    return {key: value.float() if value.is_floating_point() else value for key, value in state.items()}


class ResNetMetricEncoder(TorchEncoder):
    def __init__(self, *, weights: str | Path, name: str = "resnet18_metric", embedding_dim: int = 500,
                 arch: str = "resnet18", input_size: int = 224, mean=None, std=None, **kwargs):
        self.name = name
        self.embedding_dim = int(embedding_dim)
        self.input_size = int(input_size)
        self.mean = tuple(mean) if mean is not None else self.mean
        self.std = tuple(std) if std is not None else self.std
        self.weights = Path(weights)
        self.arch = arch
        net = MetricNet(self.embedding_dim, arch)
        mismatch = f"{self.weights}: does not fit {arch} with a {embedding_dim}-d projection"
        try:
            result = net.load_state_dict(load_state_dict(self.weights), strict=False)
        except RuntimeError as exc:  # shape mismatches raise even when not strict
            detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc))
            raise PluginError(f"{mismatch} ({detail})") from None
        if result.missing_keys or result.unexpected_keys:
            raise PluginError(f"{mismatch} (missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})")
        super().__init__(net, **kwargs)

    def identity(self):
        stat = self.weights.stat()
        return {**super().identity(), "arch": self.arch, "weights": self.weights.name,
                "weights_size": stat.st_size, "weights_mtime_ns": stat.st_mtime_ns}
