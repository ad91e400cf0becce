"""Detectors a plugin directory's ``config.json`` describes (written by ``reid train detector``).

Example config::

    {"name": "charfaces_fcos", "architecture": "fcos_lite0", "weights": "weights.pt", "input_size": 640,
     "score_threshold": 0.42, "margin": 0.17, "description": "..."}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PIL import Image

from reid.models.detectors.base import Box, Detector
from reid.errors import PluginError, ReidError


class FcosDetector(Detector):
    """FCOS over EfficientNet-Lite0 (``reid.models.detectors.fcos``): the image's longer side is scaled to
    ``input_size``; boxes scoring ``score_threshold`` or more are faces."""

    def __init__(self, *, name: str, weights: str | Path, input_size: int = 640, score_threshold: float = 0.5,
                 margin: float = 0.17, min_face: int | None = None, device: str | None = None):
        from reid.models.detectors.fcos import build_fcos
        from reid.device import resolve_device
        from reid.models.encoders.inference import prepare_for_inference

        if min_face is not None and min_face < 1:
            raise ReidError(f"min face must be at least 1 pixel (got {min_face})")
        self.name, self.weights, self.margin, self.min_face = name, Path(weights), float(margin), min_face
        self.input_size, self.score_threshold = int(input_size), float(score_threshold)
        self.device = resolve_device(device)
        # batch norm folded, channels-last on the CPU: half the time a page, the same boxes
        self.model = prepare_for_inference(load_weights(build_fcos(input_size=self.input_size,
                                                                   score_threshold=self.score_threshold),
                                                        self.weights, name), self.device)

    def identity(self) -> dict:
        return {**super().identity(), "weights": str(self.weights.resolve()), "input_size": self.input_size,
                "score_threshold": self.score_threshold, "min_face": self.min_face}

    def detect(self, image: Image.Image) -> list[Box]:
        import torch
        from torchvision.transforms.v2.functional import pil_to_tensor

        # a large image is brought to the network's size by Pillow first (antialiased, on bytes, as the training
        # pages were made), not as a float tensor of every pixel that the model's own transform would then shrink
        seen = image.convert("RGB")
        if max(seen.size) > self.input_size:
            scale = self.input_size / max(seen.size)
            seen = seen.resize((max(1, round(seen.width * scale)), max(1, round(seen.height * scale))),
                               Image.Resampling.BILINEAR, reducing_gap=2.0)
        sx, sy = image.width / seen.width, image.height / seen.height
        with torch.inference_mode():
            found = self.model([pil_to_tensor(seen).to(self.device).float().div_(255)])[0]
        boxes = []
        for (left, top, right, bottom), score in zip(found["boxes"].tolist(), found["scores"].tolist()):
            box = Box(max(0, round(left * sx)), max(0, round(top * sy)), min(image.width, round(right * sx)),
                      min(image.height, round(bottom * sy)), float(score))
            if box.right > box.left and box.bottom > box.top and box.right - box.left >= (self.min_face or 0):
                boxes.append(box)
        return sorted(boxes, key=lambda b: -b.score)


def load_weights(model, weights: str | Path, name: str):
    """``model`` with the (fp16) state dict of a detector plugin's weights file loaded, as float32."""
    from reid.models.encoders.trained import load_state_dict

    state = {k: v.float() if v.is_floating_point() else v for k, v in load_state_dict(weights).items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise PluginError(f"{weights}: does not fit {name} ({str(exc).splitlines()[-1].strip()})") from None
    return model


def _fcos(config: dict[str, Any], **options: Any) -> FcosDetector:
    fields = {k: config[k] for k in ("input_size", "score_threshold", "margin") if k in config}
    given = {k: v for k, v in options.items() if v is not None}
    return FcosDetector(name=config["name"], weights=config["weights"], **{**fields, **given})


ARCHITECTURES: dict[str, Callable[..., Detector]] = {"fcos_lite0": _fcos}


def register_detector_config(register: Callable, config_path: str | Path) -> None:
    """Register the detector a plugin directory's config describes; checks the weights file exists."""
    from reid.models.encoders.config import read_config

    config = read_config(config_path, ARCHITECTURES)

    def factory(*, min_face: int | None = None, margin: float | None = None, device: str | None = None) -> Detector:
        return ARCHITECTURES[config["architecture"]](config, min_face=min_face, margin=margin, device=device)

    register(config["name"], factory, description=config.get("description", config["architecture"]))
