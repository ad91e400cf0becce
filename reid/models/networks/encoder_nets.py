"""Network architectures that trained encoders are made of. Every builder makes the architecture only
(torchvision ``weights=None``): weights come from a plugin directory's file or an explicit ``--init``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reid.models.networks.efficientnet_lite import VARIANTS, EfficientNetLite
from reid.errors import ReidError

TRUNKS = (*VARIANTS, "resnet18", "resnet34", "resnet50", "resnet101")
CLASSIFIERS = ("vgg16", "resnet18", "resnet50", "resnet101")
# Feature layers a classifier exposes, the last one its default. convK is the output of block K,
# globally average-pooled (for ResNets conv2..conv5 are layer1..layer4, the paper's conv2_x..conv5_x).
LAYERS = {"vgg16": ("conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2"),
          "resnet": ("conv1", "conv2", "conv3", "conv4", "conv5")}


def _unknown(kind: str, name: str, valid) -> ReidError:
    return ReidError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")


def _torchvision(arch: str) -> nn.Module:
    import torchvision

    return getattr(torchvision.models, arch)(weights=None)


def build_trunk(arch: str) -> tuple[nn.Module, int]:
    """A pooled feature extractor and its output width."""
    if arch in VARIANTS:
        trunk = EfficientNetLite(arch)
        return trunk, trunk.feature_dim
    if arch not in TRUNKS:
        raise _unknown("trunk", arch, TRUNKS)
    trunk = _torchvision(arch)
    dim = trunk.fc.in_features
    trunk.fc = nn.Identity()
    return trunk, dim


class MetricNet(nn.Module):
    """pytorch-metric-learning's trunk/embedder split: pooled trunk features -> linear projection."""

    def __init__(self, embedding_dim: int = 128, arch: str = "resnet18"):
        super().__init__()
        self.trunk, trunk_dim = build_trunk(arch)
        self.embedder = nn.Linear(trunk_dim, embedding_dim)
        if embedding_dim == trunk_dim:  # start as the identity: before training, the trunk's own features
            nn.init.eye_(self.embedder.weight)
            nn.init.zeros_(self.embedder.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedder(self.trunk(x))


def layer_names(arch: str) -> tuple[str, ...]:
    if arch not in CLASSIFIERS:
        raise _unknown("architecture", arch, CLASSIFIERS)
    return LAYERS["vgg16" if arch == "vgg16" else "resnet"]


def check_layer(arch: str, layer: str | None) -> str:
    """The layer to read (the architecture's last feature layer when None); unknown names list the valid ones."""
    names = layer_names(arch)
    if layer is None:
        return names[-1]
    if layer not in names:
        raise _unknown(f"layer for {arch}", layer, names)
    return layer


class ClassifierNet(nn.Module):
    """An ImageNet-shaped classifier with a new head, whose inner layers serve as features."""

    def __init__(self, arch: str, num_classes: int):
        super().__init__()
        layer_names(arch)
        self.arch = arch
        self.net = _torchvision(arch)
        self.replace_head(num_classes)

    def replace_head(self, num_classes: int) -> nn.Linear:
        """A fresh last layer with ``num_classes`` outputs (new characters, or DeepCluster's k)."""
        head = nn.Linear(self.head.in_features, num_classes)
        if self.arch == "vgg16":
            self.net.classifier[6] = head
        else:
            self.net.fc = head
        return head

    @property
    def head(self) -> nn.Linear:
        return self.net.classifier[6] if self.arch == "vgg16" else self.net.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The named layer's activations, pooled to one vector per image."""
        check_layer(self.arch, layer)
        blocks = self._blocks()
        for name in LAYERS["vgg16"][:5]:
            x = blocks[name](x)
            if name == layer:
                return F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = torch.flatten(self.net.avgpool(x), 1)  # only VGG's fc layers reach here
        fc = self.net.classifier
        x = fc[1](fc[0](x))  # fc1 after its ReLU, where a VGG16 feature is usually read
        return x if layer == "fc1" else fc[4](fc[3](fc[2](x)))

    def _blocks(self) -> dict[str, nn.Module]:
        net = self.net
        if self.arch == "vgg16":
            cuts = [i + 1 for i, m in enumerate(net.features) if isinstance(m, nn.MaxPool2d)]
            starts = [0] + cuts[:-1]
            return {f"conv{k + 1}": net.features[a:b] for k, (a, b) in enumerate(zip(starts, cuts))}
        stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        return {"conv1": stem, "conv2": net.layer1, "conv3": net.layer2, "conv4": net.layer3, "conv5": net.layer4}
