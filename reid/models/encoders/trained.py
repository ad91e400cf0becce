"""Encoders made of a trained network whose weights a plugin directory ships.

The architecture is built with no weights (nothing is ever downloaded); the state dict comes from the
plugin's local file, fp16 or fp32.
"""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reid.models.encoders.base import TorchEncoder
from reid.models.encoders.inference import prepare_for_inference
from reid.models.encoders.onnx_backend import BACKEND_ENV, backend_choice, onnx_network
from reid.models.networks.encoder_nets import ClassifierNet, MetricNet
from reid.errors import PluginError, ReidError, cause


def read_tensors(path: Path, *, what: str, advice: str, error: type[ReidError] = ReidError) -> Any:
    """``torch.load`` of tensors and plain data only (``weights_only``): a file from elsewhere cannot run code."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses anyway
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found; {advice}") from None
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # torch refused an object it would have to run code to build
            raise error(f"{path}: not a {what}: it holds Python objects besides tensors and plain data, which reid "
                        f"never loads (they could run code); {advice}") from None
        raise error(f"{path}: cannot read {what} (damaged, or not written by torch.save); {advice}") from None
    except Exception as exc:
        raise error(f"{path}: cannot read {what} ({cause(exc)}); {advice}") from None


def load_state_dict(weights: Path) -> dict[str, torch.Tensor]:
    state = read_tensors(weights, what="weights file", advice="fix or replace the plugin's weights", error=PluginError)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PluginError(f"{weights}: expected a state dict, found {type(state).__name__}")
    return {key: value.float() if value.is_floating_point() else value for key, value in state.items()}


def load_into(net: nn.Module, weights: Path, what: str) -> nn.Module:
    """Load a weights file that must fit ``net`` exactly; a mismatch is one PluginError line."""
    mismatch = f"{weights}: does not fit {what}"
    try:
        result = net.load_state_dict(load_state_dict(weights), strict=False)
    except RuntimeError as exc:  # shape mismatches raise even when not strict
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc))
        raise PluginError(f"{mismatch} ({detail})") from None
    if result.missing_keys or result.unexpected_keys:
        raise PluginError(f"{mismatch} (missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})")
    return net


class _Forward(nn.Module):
    """An encoder's ``forward`` as a module, for the ONNX exporter."""

    def __init__(self, encoder: "TorchEncoder"):
        super().__init__()
        self.net, self.encoder = encoder.module, [encoder]  # a list: not a sub-module

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encoder[0].forward(pixels)


class _WeightsFileEncoder(TorchEncoder):
    """Loaded once and never trained: batch norm folded, channels-last on the CPU. On the CPU it runs on ONNX
    Runtime where that is installed and matches torch (``$REID_BACKEND``: auto, the default; onnx insists; torch
    never tries)."""

    def __init__(self, net: nn.Module, *, weights, name: str, input_size: int, mean, std, **kwargs):
        self.name = name
        self.input_size = int(input_size)
        self.mean = tuple(mean) if mean is not None else self.mean
        self.std = tuple(std) if std is not None else self.std
        self.weights = Path(weights)
        super().__init__(net, **kwargs)
        self.module = prepare_for_inference(self.module, self.device)
        self._onnx = None
        self._backend = "torch" if self.device.type != "cpu" else backend_choice()

    def run_network(self, pixels: torch.Tensor) -> torch.Tensor:
        if self._backend in ("onnx", "auto") and self._onnx is None:  # exported (or read from the cache) at the first batch
            network = {k: v for k, v in self.identity().items() if k not in ("weights_size", "weights_mtime_ns", "flip")}
            self._onnx, why = onnx_network(_Forward(self), self.weights, self.input_size,
                                           extra=json.dumps(network, sort_keys=True, default=str))
            if self._onnx is None and self._backend == "auto":  # not installed, or not exact here: torch it is
                self._backend = "torch"
            elif self._onnx is None:
                raise ReidError(f"{self.name}: ${BACKEND_ENV}=onnx, but ONNX Runtime cannot run it ({why}); unset "
                                f"${BACKEND_ENV} to run it on torch")
        if self._onnx is not None:
            return torch.from_numpy(self._onnx(pixels.numpy()))
        if self.device.type == "cpu":
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        return self.forward(pixels)

    def identity(self):
        stat = self.weights.stat()
        return {**super().identity(), "weights": self.weights.name,
                "weights_size": stat.st_size, "weights_mtime_ns": stat.st_mtime_ns}


class MetricEncoder(_WeightsFileEncoder):
    """Trunk + linear projection, metric-learned (``reid train metric``)."""

    adapted: str | None = None  # the key of the enrollment-time adaptation its weights come from, if any

    def __init__(self, *, weights: str | Path, name: str = "metric", embedding_dim: int = 128, arch: str = "resnet18",
                 input_size: int = 224, mean=None, std=None, **kwargs):
        self.embedding_dim = int(embedding_dim)
        self.arch = arch
        super().__init__(self._read_network(Path(weights)), weights=weights, name=name, input_size=input_size, mean=mean,
                         std=std, **kwargs)

    def _read_network(self, weights: Path) -> MetricNet:
        return load_into(MetricNet(self.embedding_dim, self.arch), weights,
                         f"{self.arch} with a {self.embedding_dim}-d projection")

    def network(self) -> MetricNet:
        """A trainable copy of the network, read again from the weights file (the loaded one has batch norm folded)."""
        return self._read_network(self.weights)

    def adapted_copy(self, state: dict[str, torch.Tensor], key: str) -> "MetricEncoder":
        """This encoder with some of its network's weights replaced (``state``: a subset of its state dict)."""
        net = self.network()
        unknown = set(state) - set(net.state_dict())
        if unknown:
            raise ReidError(f"adapted weights do not fit {self.name} (unexpected {sorted(unknown)[:3]}); enroll again")
        net.load_state_dict(state, strict=False)
        adapted = copy.copy(self)
        adapted.module = prepare_for_inference(net, self.device)
        adapted._onnx, adapted.adapted = None, key
        return adapted

    def identity(self):
        return {**super().identity(), "arch": self.arch, **({"adapted": self.adapted} if self.adapted else {})}


class LayerEncoder(_WeightsFileEncoder):
    """A fine-tuned (or DeepCluster-trained) classifier read at one inner layer."""

    def __init__(self, *, weights: str | Path, name: str = "classifier", arch: str = "vgg16", layer: str = "fc2",
                 num_classes: int = 2, embedding_dim: int = 0, input_size: int = 224, mean=None, std=None, **kwargs):
        self.arch, self.layer = arch, layer
        self.embedding_dim = int(embedding_dim)
        net = load_into(ClassifierNet(arch, int(num_classes)), Path(weights), f"{arch} with {num_classes} classes")
        super().__init__(net, weights=weights, name=name, input_size=input_size, mean=mean, std=std, **kwargs)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module.features(batch, self.layer)

    def identity(self):
        return {**super().identity(), "arch": self.arch, "layer": self.layer}
