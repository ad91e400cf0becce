from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reid.app.options import DetectOptions, JsonOpt, VideoOptions, grouped
from reid.app.output import console, print_json, progress_bar, report_skipped, table


@grouped
def detect(
    image_dir: Annotated[Path, typer.Argument(help="Folder of illustrations and videos (searched recursively), or one video.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", file_okay=False, help="New or empty folder for face crops and detections.json. Default: only report.")] = None,
    faces: DetectOptions = None,
    min_score: Annotated[Optional[float], typer.Option("--min-score", help="Drop faces the detector scores under this (each box's score is in detections.json).")] = None,
    video: VideoOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """Find faces: crops (with a margin) and a JSON of boxes per image; images without a face are listed."""
    from reid.jobs.detect import detect_folder
    found = faces.load()
    with progress_bar() as progress:
        result = detect_folder(image_dir, found, out=out, progress=progress, sampling=video.sampling(), min_score=min_score)
    report_skipped(result.failures)
    if json_out:
        print_json(result.to_json())
        return
    summary = result.to_json()
    rows = [("images", summary["images"]), ("with a face", f"{summary['with_face']} ({summary['detection_rate']:.1%})"),
            ("faces", summary["faces"]), ("no face", len(result.no_face)), ("unreadable", len(result.failures))]
    if min_score is not None:
        rows.append((f"dropped under --min-score {min_score:g}", result.below_min_score))
    if result.outside_image:
        rows.append(("boxes outside the image, left out", result.outside_image))
    console.print(table(f"{faces.detector} on {image_dir}", ["", ""], rows))
    if out is not None:
        console.print(f"crops and detections.json in {out}")
