"""OpenCV LBP cascade for anime faces (nagadomi's lbpcascade_animeface.xml, MIT, is the usual file).

The cascade file is never bundled or downloaded: the user names it (``--cascade`` or ``$REID_CASCADE``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from reid.models.detectors.base import Box, Detector
from reid.errors import ReidError

CASCADE_ENV = "REID_CASCADE"


class LbpCascadeDetector(Detector):
    name = "lbp_cascade"
    # Crops must be cut like the references they are compared with. 0 matches crops made by the usual
    # lbpcascade_animeface scripts: on keima3_raw, classify accuracy fell from 0.90 to 0.79 at margin 0.1.
    margin = 0.0

    def __init__(self, cascade: str | os.PathLike | None = None, *, scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_face: int = 24, margin: float | None = None):
        try:
            import cv2
        except ImportError:
            raise ReidError("lbp_cascade needs OpenCV 4: pip install 'opencv-python-headless<5'") from None
        if not hasattr(cv2, "CascadeClassifier"):
            raise ReidError(f"lbp_cascade needs OpenCV 4 (found {cv2.__version__}, which has no CascadeClassifier): "
                            "pip install 'opencv-python-headless<5'")
        cascade = cascade or os.environ.get(CASCADE_ENV)
        if not cascade:
            raise ReidError(f"lbp_cascade needs a cascade file: pass --cascade PATH or set ${CASCADE_ENV} "
                            "(e.g. lbpcascade_animeface.xml)")
        path = Path(cascade)
        if not path.is_file():
            raise ReidError(f"{path}: cascade file not found")
        try:
            self.classifier = cv2.CascadeClassifier(str(path))
        except Exception:  # OpenCV raises on some malformed files and returns an empty classifier on others
            raise ReidError(f"{path}: not an OpenCV cascade file") from None
        if self.classifier.empty():
            raise ReidError(f"{path}: not an OpenCV cascade file")
        self.cascade = path
        self.scale_factor, self.min_neighbors, self.min_face = float(scale_factor), int(min_neighbors), int(min_face)
        if scale_factor <= 1.0:
            raise ReidError(f"scale factor must be above 1.0 (got {scale_factor})")
        if margin is not None:
            self.margin = float(margin)

    def identity(self) -> dict:
        return {**super().identity(), "cascade": str(self.cascade.resolve()), "scale_factor": self.scale_factor,
                "min_neighbors": self.min_neighbors, "min_face": self.min_face}

    def detect(self, image: Image.Image) -> list[Box]:
        # equalised grey, as the cascade was trained (and as its author's example runs it)
        grey = np.asarray(ImageOps.equalize(image.convert("L")))
        found = self.classifier.detectMultiScale(grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                                 minSize=(self.min_face, self.min_face))
        boxes = [Box(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in np.asarray(found).reshape(-1, 4)]
        return sorted(boxes, key=lambda b: (b.right - b.left) * (b.bottom - b.top), reverse=True)
