"""Detectors find faces in whole illustrations; look them up by name."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reid.models.detectors.base import Detector

DEFAULT_DETECTOR = "whole"


def load_detector(name: str | None = None, **options: Any) -> "Detector":
    """Create the detector registered as ``name``; options left at None are not passed."""
    from reid import plugins
    from reid.errors import ReidError

    name = name or DEFAULT_DETECTOR
    given = {k: v for k, v in options.items() if v is not None}
    entry = plugins.registry("detectors").entry(name)
    try:
        inspect.signature(entry.factory).bind(**given)
    except TypeError:
        raise ReidError(f"detector {name!r} takes no {', '.join('--' + k.replace('_', '-') for k in given)}") from None
    return entry.factory(**given)


def optional_detector(name: str | None, **options: Any) -> "Detector | None":
    """None (each image is one face crop) unless a detector is named; its options must then fit it."""
    if name is None:
        given = [k for k, v in options.items() if v is not None]
        if given:
            from reid.errors import ReidError

            raise ReidError(f"{', '.join('--' + k.replace('_', '-') for k in given)} needs --detector")
        return None
    return load_detector(name, **options)
