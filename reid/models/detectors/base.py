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

    def with_margin(self, margin: float, width: int, height: int) -> "Box":
        """Grown by ``margin`` of its size on every side (hair and chin count), clipped to the image."""
        dx, dy = round((self.right - self.left) * margin), round((self.bottom - self.top) * margin)
        return Box(max(0, self.left - dx), max(0, self.top - dy), min(width, self.right + dx),
                   min(height, self.bottom + dy), self.score)

    def to_json(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]

    @property
    def area(self) -> int:
        return max(0, self.right - self.left) * max(0, self.bottom - self.top)

    def intersection(self, other: "Box") -> int:
        """Pixels the two boxes share."""
        return Box(max(self.left, other.left), max(self.top, other.top), min(self.right, other.right),
                   min(self.bottom, other.bottom)).area

    def iou(self, other: "Box") -> float:
        """Intersection over union; 0 for boxes without area."""
        shared = self.intersection(other)
        union = self.area + other.area - shared
        return shared / union if union > 0 else 0.0


class Detector(abc.ABC):
    name: str = "detector"
    #: share of a box's size added on every side before cropping
    margin: float = 0.0

    @abc.abstractmethod
    def detect(self, image: Image.Image) -> list[Box]:
        """Face boxes in ``image``, best first; an empty list when there is no face."""

    def identity(self) -> dict:
        """What must match for saved embeddings of its crops to be reused."""
        return {"detector": self.name, "margin": self.margin}


class WholeImageDetector(Detector):
    """The image is the face: for folders of face crops."""

    name = "whole"

    def detect(self, image: Image.Image) -> list[Box]:
        return [Box(0, 0, image.width, image.height)]


def crop(image: Image.Image, box: Box, margin: float) -> Image.Image:
    return image.crop(box.with_margin(margin, image.width, image.height).to_json())


def load_face(path, box: Box | None, margin: float) -> Image.Image:
    """The image at ``path``, cut to ``box`` (grown by ``margin``) when there is one."""
    from reid.io.images import load_image

    image = load_image(path)
    return image if box is None else crop(image, box, margin)
