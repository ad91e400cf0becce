from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import BatchSizeOpt, DeviceOpt, EncoderOpt, JsonOpt, MethodOpt, MinClusterSizeOpt, ResultDirOpt, SeedOpt, UmapDimOpt
from reid.app.output import console, print_json, progress_bar, report_skipped, table
from reid.cluster_output import cluster_folder, write_clusters
from reid.encoders import load_encoder


def cluster(
    image_dir: Annotated[Path, typer.Argument(help="Folder of images with an unknown number of characters.")],
    method: MethodOpt = "hdbscan",
    umap_dim: UmapDimOpt = 32,
    min_cluster_size: MinClusterSizeOpt = 5,
    result_dir: ResultDirOpt = None,
    seed: SeedOpt = 0,
    encoder: EncoderOpt = None,
    device: DeviceOpt = None,
    batch_size: BatchSizeOpt = 32,
    json_out: JsonOpt = False,
) -> None:
    """Find the characters in a folder: clusters with their sizes, noise, copies and contact sheets."""
    model = load_encoder(encoder, device=device, batch_size=batch_size)
    with progress_bar() as progress:
        found = cluster_folder(image_dir, model, method=method, umap_dim=umap_dim,
                               min_cluster_size=min_cluster_size, seed=seed, progress=progress)
        if result_dir is not None:
            write_clusters(found, result_dir, progress=progress)
    report_skipped(found.failures)
    if json_out:
        print_json(found.to_json())
        return
    rows = [(name, len(members), ", ".join(Path(p).name for p in members[:4]) + (" ..." if len(members) > 4 else ""))
            for name, members in found.groups().items()]
    title = f"{found.clustering.n_clusters} clusters, {found.clustering.n_noise} noise, {len(found.failures)} skipped"
    console.print(table(title, ["cluster", "images", "examples"], rows))
    if result_dir is not None:
        console.print(f"copies and contact sheets in {result_dir} (originals untouched)")
