from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import ContextOptions, DetectorOptions, EncoderOptions, JsonOpt, NoFaceOpt, ThresholdOpt, grouped
from reid.app.output import console, print_json, warn
from reid.choices import NoFace


@grouped
def similarity(
    image_a: Annotated[Path, typer.Argument(help="First image.")],
    image_b: Annotated[Path, typer.Argument(help="Second image.")],
    threshold: ThresholdOpt = None,
    faces: DetectorOptions = None,
    no_face: NoFaceOpt = NoFace.whole,
    context: ContextOptions = None,
    model: EncoderOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Score two images and say whether they show the same character (with --detector: their best pair of faces)."""
    from reid.jobs.similarity import compare
    found = faces.load()
    result = compare(model.load(), image_a, image_b, threshold=threshold, detector=found, context=context.load(found),
                     no_face=no_face)
    if json_out:
        print_json(result)
        return
    verdict = "[green]same character[/]" if result["same"] else "[red]different characters[/]"
    console.print(f"score {result['score']:.4f} (threshold {result['threshold']:.2f}, {result['encoder']}): {verdict}")
    for side, image in (("a", image_a), ("b", image_b)):
        if result.get(f"whole_{side}"):
            warn(f"no face found in {image} by {faces.detector}; the whole image was used instead (--no-face whole)")
