from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import (BatchSizeOpt, CascadeOpt, ContextOpt, DetectorOpt, DeviceOpt, EncoderOpt, EveryOpt, JsonOpt,
                              MarginOpt, MaxWidthOpt, MergeOpt, MethodOpt, MinClusterSizeOpt, MinFaceOpt, MinNeighborsOpt,
                              ResultDirOpt, ScenesOpt, SeedOpt, SkipOpt, StopOpt, UmapDimOpt, WeightsOpt)
from reid.app.output import console, print_json, progress_bar, report_no_face, report_skipped, table, when
from reid.detectors import optional_detector
from reid.encoders import load_encoder
from reid.fileio import check_new_folder


def cluster(
    image_dir: Annotated[Path, typer.Argument(help="Folder of images (and videos) with an unknown number of characters, sub-folders included; or one video.")],
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
    every: EveryOpt = None,
    scenes: ScenesOpt = False,
    skip: SkipOpt = 0.0,
    stop: StopOpt = None,
    max_width: MaxWidthOpt = 1280,
    json_out: JsonOpt = False,
) -> None:
    """Find the characters in a folder or a video: clusters with their sizes, noise, copies and contact sheets;
    for videos also when each one is on screen (timeline.png)."""
    from reid.cluster_output import cluster_folder, write_clusters
    from reid.context import make_context
    from reid.inputs import frames_folder, sampling_from_options
    if result_dir is not None:
        check_new_folder(result_dir)  # before the work, not after it
    faces = optional_detector(detector, cascade=cascade, min_neighbors=min_neighbors, min_face=min_face,
                              margin=margin)
    around = make_context(context, weights, faces)
    model = load_encoder(encoder, device=device, batch_size=batch_size)
    sampling = sampling_from_options(every, scenes, skip, stop, max_width)
    with progress_bar() as progress, frames_folder(result_dir) as (frames_dir, frames_final):
        found = cluster_folder(image_dir, model, method=method, umap_dim=umap_dim, min_cluster_size=min_cluster_size,
                               seed=seed, merge_threshold=merge_threshold, detector=faces, context=around,
                               sampling=sampling, frames_dir=frames_dir, frames_final=frames_final, progress=progress)
        if result_dir is not None:
            write_clusters(found, result_dir, progress=progress)
    report_skipped(found.failures)
    report_no_face(found.no_face, detector)
    if json_out:
        print_json(found.to_json())
        return
    timeline = found.timeline()
    rows = [(name, len(rows), ", ".join(found.paths[i].name for i in rows[:4]) + (" ..." if len(rows) > 4 else ""))
            for name, rows in found.members().items()]
    if timeline:  # videos: screen time and when, instead of file names
        rows = [(name, n, f"{timeline[name]['screen_time']:.1f} s on screen: " + when(timeline[name]["appearances"])
                 if name in timeline else examples) for name, n, examples in rows]
    title = f"{found.clustering.n_clusters} clusters, {found.clustering.n_noise} noise, {len(found.failures)} skipped"
    console.print(table(title, ["cluster", "images", "examples"], rows))
    if result_dir is not None:
        console.print(f"copies and contact sheets in {result_dir} (originals untouched)")
