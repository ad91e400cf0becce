"""Embedding files: images are opened lazily, bad ones are skipped and reported, not fatal."""

from __future__ import annotations

import itertools
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
from PIL import Image, ImageOps

from reid.choices import NoFace
from reid.context import BodyContext, body_views
from reid.detectors.base import Box, Detector, crop
from reid.encoders.base import Encoder
from reid.errors import ImageLoadError
from reid.images import load_image


class Progress(Protocol):
    """What long library calls report to (the CLI shows it as a progress bar)."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def describe(self, description: str) -> None:
        """Change the current stage's text (training shows its running loss here)."""


class NoProgress:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def describe(self, description: str) -> None:
        pass


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


DECODE_AHEAD = 4  # images decoded ahead of the network, by a thread pool (Pillow's decoders release the GIL)


def readable_images(paths: Sequence[Path], failures: list[ImageLoadError],
                    progress: Progress) -> Iterator[tuple[Path, Image.Image]]:
    """(path, image) for each file that opens, in order; the others go to ``failures``. Files are decoded by a
    few threads while the caller works on earlier images. Progress advances once the caller has finished with
    an image."""
    with ThreadPoolExecutor(max_workers=min(DECODE_AHEAD, os.cpu_count() or 1), thread_name_prefix="reid-decode") as pool:
        queue: deque = deque()
        pending = iter(paths)
        for path in itertools.islice(pending, DECODE_AHEAD):
            queue.append((path, pool.submit(load_image, path)))
        try:
            while queue:
                path, decoding = queue.popleft()
                for following in itertools.islice(pending, 1):
                    queue.append((following, pool.submit(load_image, following)))
                try:
                    image = decoding.result()
                except ImageLoadError as exc:
                    failures.append(exc)
                else:
                    yield Path(path), image
                progress.advance(1)
        finally:
            for _, decoding in queue:  # stopped early (an error, an interrupt): nothing more to decode
                decoding.cancel()


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

    def faces() -> Iterator:
        for path, image in readable_images(paths, failures, progress):
            if grayscale:
                image = ImageOps.grayscale(image).convert("RGB")
            found = [None] if detector is None else detector.detect(image)
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
        return Embedded(ok, context.embed(encoder, faces()), failures, boxes, faceless)
    vectors = encoder.embed(faces())
    if views is None:
        return Embedded(ok, vectors, failures, boxes, faceless, whole=whole)
    per_face = vectors.reshape(len(ok), -1, vectors.shape[1]) if ok else vectors[:, None]
    return Embedded(ok, np.ascontiguousarray(per_face[:, 0]), failures, boxes, faceless, views=per_face, whole=whole)
