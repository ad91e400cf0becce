from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import ClusteringOptions, ContextOptions, DetectorOptions, EncoderOptions, ForceOpt, JsonOpt, SeedOpt, grouped
from reid.app.output import console, print_json, progress_bar, report_no_face, warn
from reid.io.files import check_replaceable, is_reid_png


@grouped
def visualize(
    image_dir: Annotated[Path, typer.Argument(help="Folder of images, or a labelled folder (one sub-folder per character).")],
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="PNG to write.")],
    thumbnails: Annotated[bool, typer.Option("--thumbnails", help="Draw each image as a small thumbnail instead of a dot.")] = False,
    clustering: ClusteringOptions = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    faces: DetectorOptions = None,
    context: ContextOptions = None,
    model: EncoderOptions = None,
    json_out: JsonOpt = False,
) -> None:
    """A UMAP 2-D map of the embeddings, coloured by cluster (and by character for a labelled folder)."""
    from reid.jobs.visualize import visualize as draw_map
    from reid.models.clustering import check_method

    check_method(clustering.method)
    check_replaceable(out, ours=is_reid_png, force=force, option="--out")
    found = faces.load()
    around = context.load(found)
    encoder = model.load()
    with progress_bar() as progress:
        result = draw_map(image_dir, encoder, out, seed=seed, thumbnails=thumbnails, detector=found, context=around,
                          progress=progress, **clustering.options())
    for skipped in result["skipped"]:
        warn(f"skipped {skipped['path']}: {skipped['reason']}")
    report_no_face(result["no_face"], faces.detector)

    if json_out:
        print_json(result)
        return
    console.print(f"{result['images']} images, {result['clusters']} clusters: {out}")
