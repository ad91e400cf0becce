"""Encoders described by a plugin directory's ``config.json``: architecture, sizes, weights file.

Example config::

    {"name": "anime_resnet18", "architecture": "metric", "arch": "resnet18", "weights": "weights.pt",
     "embedding_dim": 500, "input_size": 224, "mean": [0.485, 0.456, 0.406],
     "std": [0.229, 0.224, 0.225], "threshold": 0.6, "description": "..."}
"""

from __future__ import annotations

import functools
from pathlib import Path, PurePath
from typing import Any, Callable

from reid.errors import PluginError
from reid.io.files import read_json


def _metric(**kwargs):
    from reid.models.encoders.trained import MetricEncoder

    return MetricEncoder(**kwargs)


def _classifier_layer(**kwargs):
    from reid.models.encoders.trained import LayerEncoder

    return LayerEncoder(**kwargs)


# "metric": `reid train metric`; "classifier_layer": `reid train finetune` and `deepcluster`.
ARCHITECTURES: dict[str, Callable[..., Any]] = {"metric": _metric, "resnet18_metric": _metric,
                                                "classifier_layer": _classifier_layer}
_ARCH_DEFAULTS = {"resnet18_metric": {"arch": "resnet18"}}
_PASSED_THROUGH = ("embedding_dim", "input_size", "mean", "std", "arch", "layer", "num_classes", "flip")


def read_config(config_path: str | Path, architectures: dict[str, Any] | None = None) -> dict[str, Any]:
    """A plugin directory's config, checked: its architecture is one of ``architectures`` (the encoders' by
    default) and its weights file lies in the directory; ``weights`` becomes that file's path."""
    architectures = ARCHITECTURES if architectures is None else architectures
    config_path = Path(config_path)
    config = read_json(config_path, what="config file", error=PluginError)
    if not isinstance(config, dict):
        raise PluginError(f"{config_path}: expected a JSON object")
    for key in ("name", "architecture", "weights"):
        if not isinstance(config.get(key), str):
            raise PluginError(f"{config_path}: missing string field {key!r}")
    if config["architecture"] not in architectures:
        valid = ", ".join(sorted(architectures))
        raise PluginError(f"{config_path}: unknown architecture {config['architecture']!r}; valid architectures: {valid}")
    named = PurePath(config["weights"])
    if named.is_absolute() or ".." in named.parts or named.drive:
        # a config is data: it may name a file of its own plugin directory, not one anywhere on the machine
        raise PluginError(f"{config_path}: \"weights\" must name a file inside the plugin directory, "
                          f"not {config['weights']!r}; copy the weights file there")
    weights = config_path.parent / named
    if not weights.is_file():
        raise PluginError(f"{weights}: weights file not found (the plugin's config.json names it)")
    return {**config, "weights": weights}


def _fusion_parts(config: dict[str, Any], config_path: Path) -> list[tuple[str, float]]:
    """``"fuse": [{"encoder": NAME, "weight": W}, ...]``: other registered encoders concatenated with this one."""
    fuse = config.get("fuse", [])
    if not isinstance(fuse, list) or not all(isinstance(p, dict) and isinstance(p.get("encoder"), str) for p in fuse):
        raise PluginError(f'{config_path}: "fuse" must be a list of {{"encoder": NAME, "weight": NUMBER}}')
    return [(p["encoder"], float(p.get("weight", 1.0))) for p in fuse]


def score_calibration(config: dict[str, Any], config_path: Path) -> dict[str, Any] | None:
    """``"score_calibration": {"set": TEXT, "same": [101 percentiles], "different": [101 percentiles]}``: how
    same- and different-character pairs of characters the encoder never trained on score."""
    calibration = config.get("score_calibration")
    if calibration is None:
        return None
    quantiles = [calibration.get(kind) if isinstance(calibration, dict) else None for kind in ("same", "different")]
    if not all(isinstance(q, list) and len(q) >= 2 and all(isinstance(x, (int, float)) for x in q)
               and all(a <= b for a, b in zip(q, q[1:])) for q in quantiles):
        raise PluginError(f'{config_path}: "score_calibration" must hold "same" and "different" lists of ascending '
                          "scores (percentiles); remove it or write it again with reid train")
    return calibration


def _create(config: dict[str, Any], params: dict[str, Any], fuse: list[tuple[str, float]], calibration, *,
            threshold: float | None = None, **kwargs: Any):
    """The configured encoder; ``threshold`` (the user's) overrides the calibrated one in the config."""
    encoder = _build(config, params, fuse, threshold if threshold is not None else config.get("threshold"), **kwargs)
    encoder.score_calibration = calibration
    return encoder


def _build(config: dict[str, Any], params: dict[str, Any], fuse: list[tuple[str, float]], threshold, **kwargs: Any):
    if not fuse:
        return ARCHITECTURES[config["architecture"]](**params, threshold=threshold, **kwargs)
    from reid.models.encoders import load_encoder
    from reid.models.encoders.fusion import FusedEncoder

    own = ARCHITECTURES[config["architecture"]](**{**params, "name": f"{config['name']}.network"}, **kwargs)
    parts = [(own, float(config.get("weight", 1.0)))] + [(load_encoder(name, **kwargs), w) for name, w in fuse]
    return FusedEncoder(parts, name=config["name"], threshold=threshold, batch_size=kwargs.get("batch_size", 32))


def _factory(config_path: str | Path) -> tuple[dict[str, Any], Callable[..., Any]]:
    config = read_config(config_path)
    params = {key: config[key] for key in _PASSED_THROUGH if key in config}
    params = {**_ARCH_DEFAULTS.get(config["architecture"], {}), **params, "name": config["name"], "weights": config["weights"]}
    return config, functools.partial(_create, config, params, _fusion_parts(config, Path(config_path)),
                                     score_calibration(config, Path(config_path)))


def encoder_from_config(config_path: str | Path, **kwargs: Any):
    """The encoder a config describes, built exactly as ``--plugin-dir`` would (fusion included)."""
    return _factory(config_path)[1](**kwargs)


def register_encoder_config(register: Callable, config_path: str | Path) -> None:
    """Register the encoder a plugin directory's config describes; checks the weights file exists."""
    config, factory = _factory(config_path)
    register(config["name"], factory, description=config.get("description", config["architecture"]))
