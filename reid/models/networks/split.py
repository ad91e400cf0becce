"""A metric network cut in two for enrollment-time adaptation: a frozen prefix run once per image, and a
tail (the trunk's last two blocks, its pooling and the projection) that is fine-tuned on the prefix's
cached activations.

``depth`` says how much of the tail learns: the ``projection`` alone, the trunk's last 1x1 ``head`` too
(EfficientNet-Lite), the ``last_block``, or the ``last_two_blocks``; the rest of the tail stays as trained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reid.errors import ReidError
from reid.models.networks.efficientnet_lite import EfficientNetLite
from reid.models.networks.encoder_nets import MetricNet

DEPTHS = ("projection", "head", "last_block", "last_two_blocks")


class _Prefix(nn.Module):
    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class _Pool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class Tail(nn.Module):
    """The network after the prefix: ``blocks`` (the last two), ``head`` (EfficientNet's 1x1 to 1280 channels,
    ResNet: none), average pooling, ``embedder``."""

    def __init__(self, blocks: nn.Sequential, head: nn.Module, embedder: nn.Linear):
        super().__init__()
        self.blocks, self.head, self.embedder = blocks, head, embedder

    def stages(self) -> list[nn.Module]:
        return [*self.blocks, self.head, _Pool(), self.embedder]

    def run(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        for stage in self.stages()[start:stop]:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)

    def first_learning(self, depth: str) -> int:
        """The first stage that ``depth`` fine-tunes; the stages before it stay as trained."""
        if depth not in DEPTHS:
            raise ReidError(f"unknown adaptation depth {depth!r}; valid: {', '.join(DEPTHS)}")
        last = len(self.stages()) - 1
        return {"projection": last, "head": last - 2, "last_block": last - 3, "last_two_blocks": last - 4}[depth]


def split_network(net: MetricNet) -> tuple[nn.Module, Tail]:
    """(prefix, tail) with ``tail(prefix(x)) == net(x)``; both share ``net``'s modules."""
    trunk = net.trunk
    if isinstance(trunk, EfficientNetLite):
        prefix = _Prefix(trunk.stem, trunk.blocks[:-2])
        return prefix, Tail(trunk.blocks[-2:], trunk.head, net.embedder)
    if hasattr(trunk, "layer4"):  # torchvision ResNet: the last two blocks of layer4 are the tail
        prefix = _Prefix(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool, trunk.layer1, trunk.layer2, trunk.layer3,
                         trunk.layer4[:-2])
        return prefix, Tail(trunk.layer4[-2:], nn.Identity(), net.embedder)
    raise ReidError(f"cannot adapt a {type(trunk).__name__} trunk; adaptation knows EfficientNet-Lite and ResNet")


def tail_state(net: MetricNet, base: Tail, tuned: Tail, first: int = 0) -> dict[str, torch.Tensor]:
    """The weights of ``tuned``'s stages from ``first`` on, under ``net``'s state-dict names (``base``: the tail
    ``split_network`` cut from ``net``; ``tuned``: a fine-tuned copy of it): what an adapted encoder stores."""
    name_in_net = {id(v): k for k, v in net.state_dict(keep_vars=True).items()}
    state = {}
    for own, changed in zip(base.stages()[first:], tuned.stages()[first:]):
        new = changed.state_dict()
        state.update({name_in_net[id(v)]: new[k].detach().clone() for k, v in own.state_dict(keep_vars=True).items()})
    return state
