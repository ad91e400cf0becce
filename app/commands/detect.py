from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid.app.options import (CascadeOpt, EveryOpt, JsonOpt, MarginOpt, MaxWidthOpt, MinFaceOpt, MinNeighborsOpt, ScenesOpt,
                              SkipOpt, StopOpt)
from reid.app.output import console, print_json, progress_bar, report_skipped, table
from reid.detectors import load_detector


def detect(
    image_dir: Annotated[Path, typer.Argument(help="Folder of illustrations and videos (searched recursively), or one video.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", file_okay=False, help="New or empty folder for face crops and detections.json. Default: only report.")] = None,
    detector: Annotated[str, typer.Option("--detector", help="charfaces_fcos (learned, shipped), animeface, lbp_cascade, whole, or one a plugin registers.")] = "charfaces_fcos",
    cascade: CascadeOpt = None,
    scale_factor: Annotated[Optional[float], typer.Option("--scale-factor", min=1.001, help="lbp_cascade: image pyramid step (default 1.1; smaller is slower and finds more).")] = None,
    min_neighbors: MinNeighborsOpt = None,
    min_face: MinFaceOpt = None,
    margin: MarginOpt = None,
    every: EveryOpt = None,
    scenes: ScenesOpt = False,
    skip: SkipOpt = 0.0,
    stop: StopOpt = None,
    max_width: MaxWidthOpt = 1280,
    json_out: JsonOpt = False,
) -> None:
    """Find faces: crops (with a margin) and a JSON of boxes per image; images without a face are listed."""
    from reid.detection import detect_folder
    from reid.inputs import sampling_from_options
    found = load_detector(detector, cascade=cascade, scale_factor=scale_factor, min_neighbors=min_neighbors,
                          min_face=min_face, margin=margin)
    with progress_bar() as progress:
        result = detect_folder(image_dir, found, out=out, progress=progress,
                               sampling=sampling_from_options(every, scenes, skip, stop, max_width))
    report_skipped(result.failures)
    if json_out:
        print_json(result.to_json())
        return
    summary = result.to_json()
    rows = [("images", summary["images"]), ("with a face", f"{summary['with_face']} ({summary['detection_rate']:.1%})"),
            ("faces", summary["faces"]), ("no face", len(result.no_face)), ("unreadable", len(result.failures))]
    console.print(table(f"{detector} on {image_dir}", ["", ""], rows))
    if out is not None:
        console.print(f"crops and detections.json in {out}")
