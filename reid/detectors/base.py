"""Detectors find face boxes in an image; the pipeline crops them for the encoders."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int
    score: float = 1.0


class Detector(abc.ABC):
    name: str = "detector"

    @abc.abstractmethod
    def detect(self, image: Image.Image) -> list[Box]:
        """Face boxes in ``image``, best first; an empty list when there is no face."""


class WholeImageDetector(Detector):
    """The image is the face: for folders of face crops."""

    name = "whole"

    def detect(self, image: Image.Image) -> list[Box]:
        return [Box(0, 0, image.width, image.height)]
