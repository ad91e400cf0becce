from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reid.app.options import BatchSizeOpt, DeviceOpt, EncoderOpt, JsonOpt, MethodOpt, MinClusterSizeOpt, ThresholdOpt, UmapDimOpt
from reid.app.output import console, print_json, progress_bar, report_skipped, table
from reid.encoders import load_encoder
from reid.evaluate import evaluate as run_evaluation


def evaluate(
    dataset_dir: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder of images per character.")],
    runs: Annotated[int, typer.Option("--runs", min=1, help="Clustering runs (UMAP seeds) to average.")] = 10,
    method: MethodOpt = "hdbscan",
    umap_dim: UmapDimOpt = 32,
    min_cluster_size: MinClusterSizeOpt = 5,
    threshold: ThresholdOpt = None,
    encoder: EncoderOpt = None,
    device: DeviceOpt = None,
    batch_size: BatchSizeOpt = 32,
    json_out: JsonOpt = False,
) -> None:
    """Measure an encoder: leave-one-out top-1, EER, F1 at the threshold, clustering AMI/NMI/ARI."""
    model = load_encoder(encoder, device=device, batch_size=batch_size)
    with progress_bar() as progress:
        result = run_evaluation(dataset_dir, model, runs=runs, method=method, umap_dim=umap_dim,
                                min_cluster_size=min_cluster_size, threshold=threshold, progress=progress)
    report_skipped(result.failures)
    if json_out:
        print_json(result.to_json())
        return
    v, c = result.verification, result.clustering_summary()
    rows = [
        ("top-1 (leave-one-out)", f"{result.top1:.3f}"),
        ("EER", f"{result.eer:.3f} (at score {result.eer_threshold:.3f})"),
        (f"F1 at threshold {result.threshold:.2f}", f"{v['f1']:.3f} (precision {v['precision']:.3f}, recall {v['recall']:.3f})"),
        *[(f"{k.upper()} ({method}, {runs} runs)", f"{s['mean']:.3f} ± {s['std']:.3f}") for k, s in c.items() if k in ("ami", "nmi", "ari")],
        ("clusters found (mean)", f"{c['clusters']['mean']:.1f} for {result.n_characters} characters"),
        ("noise share (mean)", f"{c['noise']['mean']:.3f}"),
    ]
    title = f"{result.encoder} on {dataset_dir}: {result.n_images} images, {result.n_characters} characters, {len(result.failures)} skipped"
    console.print(table(title, ["metric", "value"], rows))
