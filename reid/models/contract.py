"""The plugin border: what an encoder or a detector returns is checked here before anything else uses it.

A plugin that breaks its contract (NaN, the wrong shape, boxes that are not numbers) is named in one error line
with what it returned, instead of a traceback deep inside numpy or a score of ``nan`` that reads as an answer.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
from PIL import Image

from reid.errors import PluginError, PluginWarning
from reid.models.detectors.base import Box

if TYPE_CHECKING:
    from reid.models.detectors.base import Detector
    from reid.models.encoders.base import Encoder


def origin(plugin: object) -> str:
    """Where a plugin object's class is defined, for error lines: ``name (Class in /path/plugin.py)``."""
    kind = type(plugin)
    try:
        where = inspect.getsourcefile(kind) or kind.__module__
    except TypeError:
        where = kind.__module__
    return f"{getattr(plugin, 'name', kind.__name__)!r} ({kind.__name__} in {where})"


def embed_checked(encoder: Encoder, images: Iterable[Image.Image]) -> np.ndarray:
    """``encoder.embed(images)``, refused unless it is one finite float row of the declared width per image;
    rows come back L2-normalised, float32 and contiguous."""
    counted = _Counted(images)
    vectors = encoder.embed(counted)
    return checked_vectors(encoder, vectors, counted.n)


def checked_vectors(encoder: Encoder, vectors: object, rows: int) -> np.ndarray:
    def refuse(what: str) -> PluginError:
        return PluginError(f"encoder {origin(encoder)} returned {what} for {_many(rows, 'image')}; an encoder must return "
                           f"one row of {encoder.embedding_dim or 'D'} finite floats per image: fix the plugin "
                           "or choose another --encoder")

    try:
        array = np.asarray(vectors)
    except Exception as exc:  # a tensor on the GPU, a ragged list...
        raise refuse(f"a {type(vectors).__name__} that is not an array ({type(exc).__name__})") from None
    if array.dtype.kind != "f":
        raise refuse(f"values of type {array.dtype} ({type(vectors).__name__})")
    if array.ndim != 2:
        raise refuse(f"an array of shape {array.shape}")
    if array.shape[0] != rows:
        raise refuse(_many(array.shape[0], "row"))
    if encoder.embedding_dim and array.shape[1] != encoder.embedding_dim:
        raise refuse(f"rows of width {array.shape[1]} (it declares embedding_dim {encoder.embedding_dim})")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise refuse(f"NaN or infinite values in {_many(int((~finite).sum()), 'row')}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if not np.allclose(norms[norms > 0], 1.0, atol=1e-3):  # cosine is an inner product of unit vectors
        array = np.ascontiguousarray(array / np.where(norms > 0, norms, 1.0), dtype=np.float32)
    return array


def detect_checked(detector: Detector, image: Image.Image) -> tuple[list[Box], int]:
    """``detector.detect(image)`` as whole-pixel boxes clipped to the image, and how many were dropped because
    nothing of them was left inside it. Boxes that are not four finite numbers in order are refused."""
    found = detector.detect(image)
    if not isinstance(found, (list, tuple)):
        raise _box_error(detector, f"a {type(found).__name__} instead of a list of boxes")
    boxes, dropped = [], 0
    for item in found:
        box = _as_box(detector, item)
        clipped = Box(max(0, box.left), max(0, box.top), min(image.width, box.right), min(image.height, box.bottom),
                      box.score)
        if clipped.right > clipped.left and clipped.bottom > clipped.top:
            boxes.append(clipped)
        else:
            dropped += 1
    return boxes, dropped


def report_dropped(detector: Detector, dropped: int) -> None:
    """One warning for the boxes a run dropped (the CLI prints it as a ``warning:`` line)."""
    if dropped:
        warnings.warn(PluginWarning(f"detector {origin(detector)} returned {_many(dropped, 'box')} with no area inside "
                                    "the image; left out"), stacklevel=2)


def _as_box(detector: Detector, item: object) -> Box:
    if isinstance(item, Box):
        values = [item.left, item.top, item.right, item.bottom, item.score]
    elif isinstance(item, (list, tuple)) and len(item) in (4, 5):
        values = [*item, 1.0][:5]
    else:
        raise _box_error(detector, f"{type(item).__name__} {_short(item)} as a box")
    checked = [_number(v) for v in values]
    if any(v is None for v in checked):
        raise _box_error(detector, f"the box {_short(values[:4])} with score {_short(values[4])}, not finite numbers")
    left, top, right, bottom, score = checked
    if right < left or bottom < top:
        raise _box_error(detector, f"the box {_short(values[:4])}, whose right or bottom edge comes before its left "
                                   "or top")
    return Box(math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom), float(score))


def _number(value: object) -> float | None:
    """A finite real number (a 0-d tensor or array counts), else None."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def _box_error(detector: Detector, what: str) -> PluginError:
    return PluginError(f"detector {origin(detector)} returned {what}; a detector must return a list of "
                       "reid Box(left, top, right, bottom, score) with finite numbers, left <= right and top <= bottom: "
                       "fix the plugin or choose another --detector")


def _many(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}es" if thing.endswith("x") else f"{n} {thing}s"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Counted:
    """An iterable of images that counts what the encoder took from it."""

    def __init__(self, images: Iterable[Image.Image]):
        self._images, self.n = images, 0

    def __iter__(self) -> Iterator[Image.Image]:
        for image in self._images:
            self.n += 1
            yield image
