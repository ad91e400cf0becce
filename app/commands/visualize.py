from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import (BatchSizeOpt, CascadeOpt, ContextOpt, DetectorOpt, DeviceOpt, EncoderOpt, ForceOpt, JsonOpt, MarginOpt,
                              MethodOpt, MinClusterSizeOpt, MinFaceOpt, MinNeighborsOpt, SeedOpt, UmapDimOpt, WeightsOpt)
from reid.app.output import console, print_json, progress_bar, report_no_face, warn
from reid.clustering import check_method
from reid.detectors import optional_detector
from reid.encoders import load_encoder
from reid.fileio import check_replaceable, is_reid_png


def visualize(
    image_dir: Annotated[Path, typer.Argument(help="Folder of images, or a labelled folder (one sub-folder per character).")],
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="PNG to write.")],
    thumbnails: Annotated[bool, typer.Option("--thumbnails", help="Draw each image as a small thumbnail instead of a dot.")] = False,
    method: MethodOpt = "hdbscan",
    umap_dim: UmapDimOpt = 32,
    min_cluster_size: MinClusterSizeOpt = 5,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    detector: DetectorOpt = None,
    cascade: CascadeOpt = None,
    min_neighbors: MinNeighborsOpt = None,
    min_face: MinFaceOpt = None,
    margin: MarginOpt = None,
    context: ContextOpt = None,
    weights: WeightsOpt = None,
    encoder: EncoderOpt = None,
    device: DeviceOpt = None,
    batch_size: BatchSizeOpt = 32,
    json_out: JsonOpt = False,
) -> None:
    """A UMAP 2-D map of the embeddings, coloured by cluster (and by character for a labelled folder)."""
    from reid.context import make_context
    from reid.visualize import visualize as draw_map
    check_method(method)
    check_replaceable(out, ours=is_reid_png, force=force, option="--out")
    found = optional_detector(detector, cascade=cascade, min_neighbors=min_neighbors, min_face=min_face, margin=margin)
    around = make_context(context, weights, found)
    model = load_encoder(encoder, device=device, batch_size=batch_size)
    with progress_bar() as progress:
        result = draw_map(image_dir, model, out, method=method, umap_dim=umap_dim, min_cluster_size=min_cluster_size,
                          seed=seed, thumbnails=thumbnails, detector=found, context=around,
                          progress=progress)
    for skipped in result["skipped"]:
        warn(f"skipped {skipped['path']}: {skipped['reason']}")
    report_no_face(result["no_face"], detector)

    if json_out:
        print_json(result)
        return
    console.print(f"{result['images']} images, {result['clusters']} clusters: {out}")
