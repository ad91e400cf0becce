"""Encoders turn face images into L2-normalised embeddings; look them up by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reid.encoders.base import Encoder

DEFAULT_ENCODER = "color_texture"


def load_encoder(name: str | None = None, **kwargs: Any) -> "Encoder":
    """Create the encoder registered as ``name`` (the default one when None)."""
    from reid import plugins

    return plugins.registry("encoders").create(name or DEFAULT_ENCODER, **kwargs)
