from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.output import console
from reid.errors import ReidError


def sample_data(
    out_dir: Annotated[Path, typer.Argument(file_okay=False, help="New folder to write the sample images into.")],
    characters: Annotated[int, typer.Option("--characters", min=2, max=5, help="Enrolled characters (one more appears only among the targets).")] = 4,
    per_character: Annotated[int, typer.Option("--per-character", min=2, help="Reference images per character.")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the drawings (the same seed draws the same pictures).")] = 0,
) -> None:
    """Draw a small set of made-up characters to try reid on: references, targets, enroll.json."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ReidError(f"{out_dir}: exists and is not empty; choose a new folder")
    from reid.io.synthetic import write_dataset

    write_dataset(out_dir, characters=characters, per_character=per_character, seed=seed)
    console.print(f"wrote {out_dir}/references/<character>/, {out_dir}/targets/ and {out_dir}/enroll.json")
