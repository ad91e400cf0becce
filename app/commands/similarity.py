from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import (CascadeOpt, ContextOpt, DetectorOpt, DeviceOpt, EncoderOpt, JsonOpt, MarginOpt, MinFaceOpt, MinNeighborsOpt,
                              NoFaceOpt, ThresholdOpt, WeightsOpt)
from reid.app.output import console, print_json, warn
from reid.choices import NoFace
from reid.detectors import optional_detector
from reid.encoders import load_encoder


def similarity(
    image_a: Annotated[Path, typer.Argument(help="First image.")],
    image_b: Annotated[Path, typer.Argument(help="Second image.")],
    encoder: EncoderOpt = None,
    threshold: ThresholdOpt = None,
    detector: DetectorOpt = None,
    cascade: CascadeOpt = None,
    min_neighbors: MinNeighborsOpt = None,
    min_face: MinFaceOpt = None,
    margin: MarginOpt = None,
    no_face: NoFaceOpt = NoFace.whole,
    context: ContextOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Score two images and say whether they show the same character (with --detector: their best pair of faces)."""
    from reid.context import make_context
    from reid.similarity import compare
    found = optional_detector(detector, cascade=cascade, min_neighbors=min_neighbors, min_face=min_face,
                              margin=margin)
    around = make_context(context, weights, found)
    result = compare(load_encoder(encoder, device=device), image_a, image_b, threshold=threshold, detector=found,
                     context=around, no_face=no_face)
    if json_out:
        print_json(result)
        return
    verdict = "[green]same character[/]" if result["same"] else "[red]different characters[/]"
    console.print(f"score {result['score']:.4f} (threshold {result['threshold']:.2f}, {result['encoder']}): {verdict}")
    for side, image in (("a", image_a), ("b", image_b)):
        if result.get(f"whole_{side}"):
            warn(f"no face found in {image} by {detector}; the whole image was used instead (--no-face whole)")
