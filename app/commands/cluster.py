from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import (BatchSizeOpt, CascadeOpt, ContextOpt, DetectorOpt, DeviceOpt, EncoderOpt, JsonOpt, MethodOpt, MinClusterSizeOpt,
                              MarginOpt, MergeOpt, MinFaceOpt, MinNeighborsOpt, ResultDirOpt, SeedOpt, UmapDimOpt,
                              WeightsOpt)
from reid.app.output import console, print_json, progress_bar, report_no_face, report_skipped, table
from reid.detectors import optional_detector
from reid.encoders import load_encoder
from reid.fileio import check_new_folder


def cluster(
    image_dir: Annotated[Path, typer.Argument(help="Folder of images with an unknown number of characters, sub-folders included.")],
    method: MethodOpt = "hdbscan",
    umap_dim: UmapDimOpt = 32,
    min_cluster_size: MinClusterSizeOpt = 5,
    merge_threshold: MergeOpt = None,
    result_dir: ResultDirOpt = None,
    seed: SeedOpt = 0,
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
    """Find the characters in a folder: clusters with their sizes, noise, copies and contact sheets."""
    from reid.cluster_output import cluster_folder, write_clusters
    from reid.context import make_context
    if result_dir is not None:
        check_new_folder(result_dir)  # before the work, not after it
    faces = optional_detector(detector, cascade=cascade, min_neighbors=min_neighbors, min_face=min_face,
                              margin=margin)
    around = make_context(context, weights, faces)
    model = load_encoder(encoder, device=device, batch_size=batch_size)
    with progress_bar() as progress:
        found = cluster_folder(image_dir, model, method=method, umap_dim=umap_dim, min_cluster_size=min_cluster_size,
                               seed=seed, merge_threshold=merge_threshold, detector=faces, context=around,
                               progress=progress)
        if result_dir is not None:
            write_clusters(found, result_dir, progress=progress)
    report_skipped(found.failures)
    report_no_face(found.no_face, detector)
    if json_out:
        print_json(found.to_json())
        return
    rows = [(name, len(rows), ", ".join(found.paths[i].name for i in rows[:4]) + (" ..." if len(rows) > 4 else ""))
            for name, rows in found.members().items()]
    title = f"{found.clustering.n_clusters} clusters, {found.clustering.n_noise} noise, {len(found.failures)} skipped"
    console.print(table(title, ["cluster", "images", "examples"], rows))
    if result_dir is not None:
        console.print(f"copies and contact sheets in {result_dir} (originals untouched)")
