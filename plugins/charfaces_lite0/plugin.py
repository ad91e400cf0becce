"""Encoder plugin written by `reid train`; config.json describes the network, weights.pt holds it."""

from pathlib import Path

import reid


@reid.hookimpl
def register_encoders(register):
    """Register the encoder this directory's config.json describes."""
    reid.register_encoder_config(register, Path(__file__).with_name("config.json"))
