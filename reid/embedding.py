"""Embedding files: images are opened lazily, bad ones are skipped and reported, not fatal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np

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
    paths: list[Path]
    vectors: np.ndarray
    failures: list[ImageLoadError] = field(default_factory=list)


def embed_paths(encoder: Encoder, paths: Sequence[Path], *, progress: Progress | None = None,
                description: str = "embedding") -> Embedded:
    """Embed every readable image in ``paths``; unreadable ones go to ``failures`` in order."""
    progress = progress or NoProgress()
    progress.start(len(paths), description)
    ok: list[Path] = []
    failures: list[ImageLoadError] = []

    def readable() -> Iterator:
        for path in paths:
            try:
                image = load_image(path)
            except ImageLoadError as exc:
                failures.append(exc)
                progress.advance(1)
                continue
            ok.append(Path(path))
            yield image

    vectors = encoder.embed(readable(), progress=progress.advance)
    return Embedded(ok, vectors, failures)
