"""Printing: tables and results on stdout, progress and warnings on stderr (so --json stays clean)."""

from __future__ import annotations

import json
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import typer

from reid.errors import ImageLoadError, PluginWarning

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table


class _Console:
    """A rich Console made on first use: rich costs a third of `reid --help`'s time, and help does not print with it."""

    def __init__(self, **options: Any):
        self._options, self._console = options, None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, **self._options)
        return getattr(self._console, name)


console = _Console()
err_console = _Console(stderr=True)


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


@contextmanager
def plugin_warnings_as_lines() -> Iterator[None]:
    """What reid corrected in a plugin's output (``PluginWarning``) printed as ``warning:`` lines, each time."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", PluginWarning)
        shown = warnings.showwarning

        def show(message, category, *args, **kwargs):
            if issubclass(category, PluginWarning):
                warn(str(message))
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def report_skipped(failures: Iterable[ImageLoadError]) -> None:
    for failure in failures:
        warn(f"skipped {failure}")


def report_copies(groups: Iterable[list]) -> None:
    for group in groups:
        others = ", ".join(map(str, group[1:4])) + (f" and {len(group) - 4} more" if len(group) > 4 else "")
        warn(f"{group[0]} is byte-identical to {others}; each copy counts as an image of its own (remove the "
             "copies to count the picture once)")


def report_references(lines: Iterable[str]) -> None:
    for line in lines:
        warn(line)


def report_adaptation(adaptation: dict | None) -> None:
    """One line on an enrollment that asked for --adapt: the adapted encoder in use, or why the base one is."""
    if not adaptation:
        return
    base, adapted = adaptation["folds"].get("base"), adaptation["folds"].get("adapted")
    scores = ("" if base is None or adapted is None else
              f"; on the enrollment's own folds it scored {adapted:.3f}, the base encoder {base:.3f}")
    if adaptation["kept"]:
        console.print(f"encoder adapted to the references ({adaptation['weights']}{scores}; --no-adapt: the base encoder)")
    else:
        console.print(f"the base encoder is used: the adapted one did worse{scores}")


# what to try when a detector finds no face, per detector
NO_FACE_HINTS = {"animeface": "--min-face 24 also scans for smaller faces",
                 "lbp_cascade": "--min-neighbors 3 finds more faces"}


def report_no_face(paths: Iterable, detector: str | None, *, whole: bool = False) -> None:
    instead = "the whole image was used instead (--no-face whole)" if whole else "it is in the JSON's no_face list"
    hint = NO_FACE_HINTS.get(detector or "", "another --detector may find it")
    for path in paths:
        warn(f"no face found in {path} by {detector}; {instead} ({hint})")


def table(title: str | None, columns: list[str], rows: Iterable[Iterable[Any]]) -> "Table":
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


class RichProgress:
    """The library's Progress protocol as one rich bar per stage."""

    def __init__(self, progress: "Progress"):
        self._progress = progress
        self._task = None

    def start(self, total: int, description: str) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def describe(self, description: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=description)


@contextmanager
def progress_bar() -> Iterator[RichProgress]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as progress:
        yield RichProgress(progress)


def when(appearances: dict[str, list]) -> str:
    """A character's time ranges in videos, for a table cell: the first four, then how many."""
    from reid.io.video import clock

    spans = [f"{clock(s)}-{clock(e)}" for ranges in appearances.values() for s, e in ranges]
    return ", ".join(spans[:4]) + (f" ... ({len(spans)} in all)" if len(spans) > 4 else "")


def shorten(path: str, width: int) -> str:
    """A path cut to its last ``width`` characters at a folder boundary where one falls, so the file name shows."""
    if len(path) <= width:
        return path
    tail = path[-(width - 2):]
    cut = tail.find("/")
    return "…/" + (tail[cut + 1:] if 0 <= cut < len(tail) - 1 else tail)

