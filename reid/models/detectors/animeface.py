"""AnimeFace 2009 (nagadomi's nvxs, NYSL licence), a learned detector: small neural networks scan an image
pyramid and score face candidates. The model is compiled into the ``animeface`` wheel, so it runs offline.

The wheel's C glue reads the image from Pillow 11's internal ``Imaging`` struct, whose layout Pillow 12
changed: handed a Pillow 12+ image it silently finds nothing. So the image is handed over here in a
struct of our own with the layout the binary was compiled against, independent of the installed Pillow.
The glue takes ``obj->image`` from just after the object header, and a ctypes object keeps the address
of its own buffer exactly there, so a ctypes struct can stand in for the Pillow image object.
The offsets below were read off the disassembly of animeface 2.0.3's ``_nvxs`` extension.
"""

from __future__ import annotations

import ctypes

import numpy as np
from PIL import Image

from reid.models.detectors.base import Box, Detector
from reid.errors import ReidError

SUPPORTED_VERSION = "2.0.3"  # the build whose struct offsets were checked; another could crash the process
NATIVE_MIN_FACE = 43  # px: the smallest window the detector scans (42.592 in its source)
# The binary holds about 32 bytes of float maps per pixel: a larger image is scanned shrunk to this size
# (a face still 43 px there is at least 100 px in a 80 MP page).
MAX_SCAN_PIXELS = 16_000_000


class _ImagingLayout(ctypes.Structure):
    """The head of Pillow 11's ImagingMemoryInstance: what the binary reads (mode, size, row pointers)."""

    _fields_ = [("mode", ctypes.c_char * 7), ("type", ctypes.c_int), ("depth", ctypes.c_int), ("bands", ctypes.c_int),
                ("xsize", ctypes.c_int), ("ysize", ctypes.c_int), ("palette", ctypes.c_void_p),
                ("image8", ctypes.c_void_p), ("image32", ctypes.c_void_p), ("image", ctypes.c_void_p)]


def _load_binary():
    from importlib import metadata

    try:
        version = metadata.version("animeface")
        from animeface import _nvxs
    except (metadata.PackageNotFoundError, ImportError):
        raise ReidError("the animeface detector needs the animeface package (wheels for Linux x86_64 and macOS arm64): "
                        f"pip install animeface=={SUPPORTED_VERSION}; elsewhere use --detector lbp_cascade") from None
    if version != SUPPORTED_VERSION:
        raise ReidError(f"animeface {version} is installed; the animeface detector was checked against "
                        f"{SUPPORTED_VERSION} only: pip install animeface=={SUPPORTED_VERSION}")
    return _nvxs


def _offsets_match() -> bool:
    f = _ImagingLayout
    return (f.xsize.offset, f.ysize.offset, f.image8.offset, f.image32.offset, f.image.offset) == (20, 24, 40, 48, 56)


class AnimeFaceDetector(Detector):
    name = "animeface"
    # Its boxes are tighter than lbp_cascade's (0.74 of the width, inside it, on 43 faces both found in
    # keima3_raw); 0.17 on every side cuts crops like the cascade's, which encoders and most reference sets
    # were made with: there, classify accuracy rose from 0.83 to 0.89 and AMI from 0.66 to 0.72.
    margin = 0.17

    def __init__(self, *, min_face: int | None = None, min_likelihood: float = 0.5, margin: float | None = None):
        if not _offsets_match():
            raise ReidError("the animeface detector needs a 64-bit platform")
        self._nvxs = _load_binary()
        if min_face is not None and min_face < 1:
            raise ReidError(f"min face must be at least 1 pixel (got {min_face})")
        self.min_face = min_face
        self.min_likelihood = float(min_likelihood)
        if margin is not None:
            self.margin = float(margin)

    def identity(self) -> dict:
        return {**super().identity(), "min_face": self.min_face, "min_likelihood": self.min_likelihood}

    def _raw_detect(self, image: Image.Image) -> list[dict]:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGBX"), dtype=np.uint8))  # 4 bytes a pixel, as Pillow
        height, width = pixels.shape[:2]
        rows = (ctypes.c_void_p * height)(*(pixels.ctypes.data + y * width * 4 for y in range(height)))
        struct = _ImagingLayout(b"RGB", 0, 8, 3, width, height, None, None, ctypes.addressof(rows), ctypes.addressof(rows))
        return self._nvxs.detect(struct)  # `pixels` and `rows` stay alive until it returns

    def _scan(self, image: Image.Image, scale: float) -> list[Box]:
        scanned = image if scale == 1.0 else image.resize((round(image.width * scale), round(image.height * scale)),
                                                          Image.Resampling.BILINEAR)
        boxes = []
        for found in self._raw_detect(scanned):
            x, y, w, h = (v / scale for v in found["face_box"])
            if found["likelihood"] >= self.min_likelihood and w >= (self.min_face or 0):
                boxes.append(Box(max(0, round(x)), max(0, round(y)), min(image.width, round(x + w)),
                                 min(image.height, round(y + h)), float(found["likelihood"])))
        return boxes

    def detect(self, image: Image.Image) -> list[Box]:
        def capped(scale: float) -> float:
            return min(scale, (MAX_SCAN_PIXELS / (image.width * image.height)) ** 0.5)

        boxes = self._scan(image, capped(1.0))
        if self.min_face and self.min_face < NATIVE_MIN_FACE and capped(NATIVE_MIN_FACE / self.min_face) > capped(1.0):
            # Faces under the scanning window are found on an enlarged copy; the native scan is kept too, because
            # enlarging loses some large faces (on keima3_raw, 99 of 106 illustrations natively, 86 enlarged 1.8x).
            boxes += self._scan(image, capped(NATIVE_MIN_FACE / self.min_face))
        return non_maximum_suppression(boxes)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box: a face found at two scales gives nested boxes of different sizes."""
    smaller = min(a.area, b.area)
    return a.intersection(b) / smaller if smaller else 0.0


def non_maximum_suppression(boxes: list[Box], overlap: float = 0.5) -> list[Box]:
    """The most likely box of each group of overlapping ones, most likely first."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(_overlap(box, other) < overlap for other in kept):
            kept.append(box)
    return kept
