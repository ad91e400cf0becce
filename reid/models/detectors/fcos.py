"""A learned face detector: torchvision's FCOS (one class, anchor-free) over an EfficientNet-Lite0 feature
pyramid. Small enough for a CPU (3.7 M parameters, 7 MB in fp16) and trained by ``reid train detector``."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelP6P7

from reid.models.networks.efficientnet_lite import MEAN, STD, EfficientNetLite

ARCHITECTURE = "fcos_lite0"
# Lite0's blocks[:5] end at stride 8 (40 channels), [5:11] at 16 (112), [11:] at 32 (320).
_STAGE_ENDS = (5, 11, 16)
_STAGE_CHANNELS = [40, 112, 320]
# FCOS places one "anchor" per location whose size only sets the level's stride; P6 and P7 reach large faces.
_LEVEL_SIZES = ((8,), (16,), (32,), (64,), (128,))


class Lite0Pyramid(nn.Module):
    """Lite0's trunk (no 1280-d head) under a feature pyramid (P3-P7)."""

    def __init__(self, channels: int = 64):
        super().__init__()
        trunk = EfficientNetLite()
        self.stem, self.blocks = trunk.stem, trunk.blocks
        self.fpn = FeaturePyramidNetwork(_STAGE_CHANNELS, channels, extra_blocks=LastLevelP6P7(channels, channels))
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        features, start = OrderedDict(), 0
        x = self.stem(x)
        for level, end in zip(("c3", "c4", "c5"), _STAGE_ENDS):
            x = self.blocks[start:end](x)
            features[level], start = x, end
        return self.fpn(features)


def build_fcos(*, input_size: int = 640, channels: int = 64, head_convs: int = 2, score_threshold: float = 0.3,
               nms_threshold: float = 0.4) -> FCOS:
    """The network; an image's longer side is scaled to ``input_size`` pixels before it is searched."""
    backbone = Lite0Pyramid(channels)
    anchors = AnchorGenerator(_LEVEL_SIZES, ((1.0,),) * len(_LEVEL_SIZES))
    return FCOS(backbone, num_classes=1, min_size=input_size, max_size=input_size, image_mean=list(MEAN),
                image_std=list(STD), anchor_generator=anchors, head=FCOSHead(channels, 1, 1, num_convs=head_convs),
                score_thresh=score_threshold, nms_thresh=nms_threshold, detections_per_img=50)


def load_imagenet_trunk(model: FCOS) -> None:
    """Start the trunk from the ImageNet Lite0 weights (the ``reid[train]`` extra ships them)."""
    from reid.models.networks.efficientnet_lite import load_imagenet

    trunk = load_imagenet(EfficientNetLite())
    model.backbone.stem.load_state_dict(trunk.stem.state_dict())
    model.backbone.blocks.load_state_dict(trunk.blocks.state_dict())
