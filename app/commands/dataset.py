from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid.app.options import JsonOpt
from reid.app.output import console, print_json, progress_bar, table, warn

app = typer.Typer(no_args_is_help=True, help="Turn a published data set into labelled face folders for evaluate and train.")


@app.command()
def manga109(
    root: Annotated[Path, typer.Argument(file_okay=False, help="Manga109's folder: books.txt, annotations/, images/.")],
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="New or empty folder: one sub-folder per title, in it one per character.")],
    titles: Annotated[Optional[Path], typer.Option("--titles", dir_okay=False, help="Titles to take, one a line (split files such as finetune.txt / eval.txt). Default: all of books.txt.")] = None,
    min_faces: Annotated[int, typer.Option("--min-faces", min=1, help="A character needs this many faces in a title for a folder of its own; the rest go to 'other'.")] = 10,
    margin: Annotated[float, typer.Option("--margin", min=0.0, help="Share of a face box added on every side before cropping.")] = 0.0,
    json_out: JsonOpt = False,
) -> None:
    """Cut Manga109's annotated faces into OUT/<title>/<character>/ (one folder per title); then `reid evaluate OUT --per-title` gives the table per title."""
    from reid.jobs.manga109 import cut_faces, read_titles

    chosen = read_titles(titles) if titles is not None else None
    with progress_bar() as progress:
        result = cut_faces(root, out, titles=chosen, min_faces=min_faces, margin=margin, progress=progress)
    for line in result.skipped:
        warn(f"skipped {line}")
    if json_out:
        print_json(result.to_json())
        return
    rows = [(title, sum(folders.values()), len([f for f in folders if f != "other"]), folders.get("other", 0))
            for title, folders in result.titles.items()]
    console.print(table(f"faces cut into {out}", ["title", "faces", "characters", "in other"], rows))
