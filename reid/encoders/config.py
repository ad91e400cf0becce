"""Encoders described by a plugin directory's ``config.json``: architecture, sizes, weights file.

Example config::

    {"name": "anime_resnet18", "architecture": "resnet18_metric", "weights": "weights.pt",
     "embedding_dim": 500, "input_size": 224, "mean": [0.485, 0.456, 0.406],
     "std": [0.229, 0.224, 0.225], "threshold": 0.6, "description": "..."}
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

from reid.errors import PluginError
from reid.fileio import read_json


def _resnet_metric(**kwargs):
    from reid.encoders.resnet import ResNetMetricEncoder

    return ResNetMetricEncoder(**kwargs)


ARCHITECTURES: dict[str, Callable[..., Any]] = {"resnet18_metric": _resnet_metric}
_ARCH_DEFAULTS = {"resnet18_metric": {"arch": "resnet18"}}
_PASSED_THROUGH = ("embedding_dim", "input_size", "mean", "std", "threshold")


def read_config(config_path: str | Path) -> dict[str, Any]:
    config_path = Path(config_path)
    config = read_json(config_path, what="config file", error=PluginError)
    if not isinstance(config, dict):
        raise PluginError(f"{config_path}: expected a JSON object")
    for key in ("name", "architecture", "weights"):
        if not isinstance(config.get(key), str):
            raise PluginError(f"{config_path}: missing string field {key!r}")
    if config["architecture"] not in ARCHITECTURES:
        valid = ", ".join(sorted(ARCHITECTURES))
        raise PluginError(f"{config_path}: unknown architecture {config['architecture']!r}; valid architectures: {valid}")
    weights = config_path.parent / config["weights"]
    if not weights.is_file():
        raise PluginError(f"{weights}: weights file not found (the plugin's config.json names it)")
    return {**config, "weights": weights}


def register_encoder_config(register: Callable, config_path: str | Path) -> None:
    """Register the encoder a plugin directory's config describes; checks the weights file exists."""
    config = read_config(config_path)
    params = {key: config[key] for key in _PASSED_THROUGH if key in config}
    params.update(_ARCH_DEFAULTS.get(config["architecture"], {}))
    if "arch" in config:
        params["arch"] = config["arch"]
    factory = functools.partial(ARCHITECTURES[config["architecture"]], name=config["name"], weights=config["weights"], **params)
    register(config["name"], factory, description=config.get("description", config["architecture"]))
