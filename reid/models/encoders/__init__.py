"""Encoders turn face images into L2-normalised embeddings; look them up by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reid.models.encoders.base import Encoder

#: the learned model shipped in plugins/charfaces_lite0 (see its MODEL_CARD.md)
DEFAULT_ENCODER = "charfaces_lite0"
#: built in and weights-free: the default where the shipped plugin directory is absent (a wheel install)
FALLBACK_ENCODER = "color_texture"


def default_encoder_name() -> str:
    from reid import plugins

    return DEFAULT_ENCODER if DEFAULT_ENCODER in plugins.registry("encoders").names() else FALLBACK_ENCODER


def load_encoder(name: str | None = None, **kwargs: Any) -> "Encoder":
    """Create the encoder registered as ``name`` (the default one when None)."""
    from reid import plugins

    return plugins.registry("encoders").create(name or default_encoder_name(), **kwargs)
