"""What long library calls report their progress to; the CLI shows it as a bar, tests and scripts pass nothing."""

from __future__ import annotations

from typing import Protocol


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
