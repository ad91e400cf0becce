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
    console.print(f"score {result['score']:.4f} (threshold {result['threshold']:.2f}, {result['encoder']}): {verdict}"
                  f"{_how_sure(result)}")
    for side, image in (("a", image_a), ("b", image_b)):
        if result.get(f"whole_{side}"):
            warn(f"no face found in {image} by {faces.detector}; the whole image was used instead (--no-face whole)")


def _how_sure(result: dict) -> str:
    """The verdict's footing among pairs of characters the encoder never trained on, and what to do when weak."""
    if "borderline" not in result:
        return ""
    if result["same"]:
        share, pairs, how = result["different_pairs_at_or_above"], "different-character", "this high"
    else:
        share, pairs, how = result["same_pairs_below"], "same-character", "this low"
    said = f"{share:.1%}" if share < 0.01 else f"{share:.0%}"
    said += f" of {pairs} pairs of unseen characters score {how}"
    if not result["borderline"]:
        return f" ({said})"
    return (f", [yellow]borderline[/]: {said}; compare more pictures of each, or enroll several references and "
            "use reid classify")

