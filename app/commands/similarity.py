from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import DeviceOpt, EncoderOpt, JsonOpt, ThresholdOpt
from reid.app.output import console, print_json
from reid.encoders import load_encoder
from reid.similarity import compare


def similarity(
    image_a: Annotated[Path, typer.Argument(help="First image.")],
    image_b: Annotated[Path, typer.Argument(help="Second image.")],
    encoder: EncoderOpt = None,
    threshold: ThresholdOpt = None,
    device: DeviceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Score two images and say whether they show the same character."""
    result = compare(load_encoder(encoder, device=device), image_a, image_b, threshold=threshold)
    if json_out:
        print_json(result)
        return
    verdict = "[green]same character[/]" if result["same"] else "[red]different characters[/]"
    console.print(f"score {result['score']:.4f} (threshold {result['threshold']:.2f}, {result['encoder']}): {verdict}")
