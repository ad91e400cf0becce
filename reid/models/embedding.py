"""Embedding files: images are opened lazily, bad ones are skipped and reported, not fatal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps

from reid.choices import NoFace
from reid.models.context import BodyContext, body_views
from reid.models.contract import detect_checked, embed_checked, report_dropped
from reid.models.detectors.base import Box, Detector, crop
from reid.models.encoders.base import Encoder
from reid.errors import ImageLoadError
from reid.io.images import readable_images
from reid.progress import NoProgress, Progress


@dataclass
class Embedded:
    """One row per face: an image with two faces appears twice in ``paths`` (``boxes`` tells them apart)."""

    paths: list[Path]
    vectors: np.ndarray
    failures: list[ImageLoadError] = field(default_factory=list)
    boxes: list[Box | None] = field(default_factory=list)  # None: the whole image, no detector
    no_face: list[Path] = field(default_factory=list)  # images the detector found no face in
    views: np.ndarray | None = None  # faces x views x dim when views were asked for; ``vectors`` is view 0
    whole: set[Path] = field(default_factory=set)  # face-less images embedded whole (``no_face="whole"``)

    def entry(self, i: int) -> dict:
        """How an output names row ``i``: its file, and the face's box when a detector cut it."""
        box = self.boxes[i] if self.boxes else None
        if box is not None:
            return {"path": str(self.paths[i]), "box": box.to_json()}
        return {"path": str(self.paths[i]), **({"whole_image": True} if self.paths[i] in self.whole else {})}


def embed_paths(encoder: Encoder, paths: Sequence[Path], *, progress: Progress | None = None,
                description: str = "embedding", detector: Detector | None = None,
                context: BodyContext | None = None, grayscale: bool = False,
                views: Callable[[Image.Image], list[Image.Image]] | None = None,
                no_face: NoFace = NoFace.skip) -> Embedded:
    """Embed every readable image in ``paths`` (every face in it, with a ``detector``; with a ``context``, each
    face fused with the region below it); unreadable images go to ``failures`` and face-less ones to
    ``no_face``, in order. ``grayscale`` turns each image grey first, as a manga page is. ``views`` turns each
    face into several images (the first the face itself), all embedded; not with a ``context``. An image
    the ``detector`` finds no face in is listed in ``no_face`` and, with ``no_face="whole"`` (and no
    ``context``, which needs a face to find the body under), embedded whole and listed in ``whole``."""
    if views is not None and context is not None:
        raise ValueError("views of a face and a body context do not combine")
    progress = progress or NoProgress()
    progress.start(len(paths), description)
    ok: list[Path] = []
    boxes: list[Box | None] = []
    failures: list[ImageLoadError] = []
    faceless: list[Path] = []
    whole: set[Path] = set()
    fallback = NoFace(no_face) == NoFace.whole and context is None
    dropped = 0

    def faces() -> Iterator:
        nonlocal dropped
        for path, image in readable_images(paths, failures, progress):
            if grayscale:
                image = ImageOps.grayscale(image).convert("RGB")
            found: list = [None]
            if detector is not None:
                found, left_out = detect_checked(detector, image)
                dropped += left_out
            if not found:
                faceless.append(path)
                if fallback:  # still a picture of someone: the whole image stands in for the face
                    found = [None]
                    whole.add(path)
            ok.extend([path] * len(found))
            boxes.extend(found)
            if context is not None:
                yield from body_views(image, found, detector, context)
                continue
            for face in (image if box is None else crop(image, box, detector.margin) for box in found):
                yield from (views(face) if views is not None else [face])

    if context is not None:
        vectors = context.embed(encoder, faces())
        report_dropped(detector, dropped)
        return Embedded(ok, vectors, failures, boxes, faceless)
    vectors = embed_checked(encoder, faces())
    if detector is not None:
        report_dropped(detector, dropped)
    if views is None:
        return Embedded(ok, vectors, failures, boxes, faceless, whole=whole)
    per_face = vectors.reshape(len(ok), -1, vectors.shape[1]) if ok else vectors[:, None]
    return Embedded(ok, np.ascontiguousarray(per_face[:, 0]), failures, boxes, faceless, views=per_face, whole=whole)
