"""Detector plugin written by `reid train detector`; config.json describes the network, weights.pt holds it."""

from pathlib import Path

import reid


@reid.hookimpl
def register_detectors(register):
    """Register the detector this directory's config.json describes."""
    reid.register_detector_config(register, Path(__file__).with_name("config.json"))
