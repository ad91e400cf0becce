"""Where models run: CPU by default, CUDA when present, $REID_DEVICE or --device to choose."""

from __future__ import annotations

import os

DEVICE_ENV = "REID_DEVICE"


def resolve_device(requested: str | int | None = None):
    """A torch device; an integer N (the older --gpu N) is cuda:N, a negative one the CPU."""
    import torch

    if requested is not None and str(requested).lstrip("-").isdigit():
        number = int(requested)
        requested = "cpu" if number < 0 else f"cuda:{number}"
    name = requested or os.environ.get(DEVICE_ENV) or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from reid.errors import ReidError

        raise ReidError(f"device {name!r} requested but CUDA is not available here; use --device cpu")
    return device
