"""The ``reid`` console script. Signals are handled before the application (slow to import: torch) loads, so
Ctrl-C during start-up ends with one line too."""

from __future__ import annotations

import sys

from reid import interrupts


def main() -> None:
    interrupts.install()
    try:
        from reid.app.main import app
    except KeyboardInterrupt as exc:
        print("interrupted while starting; nothing was written", file=sys.stderr)
        sys.exit(interrupts.as_interrupted(exc).exit_code)
    try:
        app()
    finally:
        interrupts.ignore()
