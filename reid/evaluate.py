"""Evaluating an encoder on a labelled folder (one sub-folder per character)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid import metrics
from reid.clustering import check_method, cluster_vectors
from reid.embedding import NoProgress, Progress, embed_paths
from reid.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.images import list_images


def labelled_images(dataset_dir: str | Path) -> list[tuple[str, Path]]:
    dataset_dir = Path(dataset_dir)
    list_images(dataset_dir)  # the folder's own errors first (missing, not a folder)
    pairs = [(d.name, p) for d in sorted(dataset_dir.iterdir()) if d.is_dir() for p in list_images(d)]
    characters = {label for label, _ in pairs}
    if len(characters) < 2:
        raise ReidError(f"{dataset_dir}: needs at least two sub-folders of images, one per character "
                        f"(found {len(characters)})")
    return pairs


@dataclass
class Evaluation:
    encoder: str
    n_images: int
    n_characters: int
    threshold: float
    top1: float
    eer: float
    eer_threshold: float
    verification: dict[str, float]
    clustering_runs: list[dict[str, float]]
    failures: list[ImageLoadError] = field(default_factory=list)

    def clustering_summary(self) -> dict[str, dict[str, float]]:
        keys = self.clustering_runs[0].keys() if self.clustering_runs else []
        return {k: {"mean": float(np.mean([r[k] for r in self.clustering_runs])),
                    "std": float(np.std([r[k] for r in self.clustering_runs]))} for k in keys}

    def to_json(self) -> dict:
        return {
            "encoder": self.encoder, "images": self.n_images, "characters": self.n_characters,
            "threshold": self.threshold, "top1": self.top1, "eer": self.eer, "eer_threshold": self.eer_threshold,
            **{f"{k}_at_threshold": v for k, v in self.verification.items()},
            "clustering": self.clustering_summary(), "clustering_runs": self.clustering_runs,
            "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
        }


def evaluate(dataset_dir: str | Path, encoder: Encoder, *, runs: int = 10, method: str = "hdbscan",
             umap_dim: int = 32, min_cluster_size: int = 5, threshold: float | None = None,
             progress: Progress | None = None) -> Evaluation:
    check_method(method)
    pairs = labelled_images(dataset_dir)
    label_of = {path: label for label, path in pairs}
    embedded = embed_paths(encoder, [p for _, p in pairs], progress=progress)
    labels = [label_of[p] for p in embedded.paths]
    if len(set(labels)) < 2:
        raise ReidError(f"{dataset_dir}: fewer than two characters have readable images")
    vectors = embedded.vectors
    threshold = encoder.threshold if threshold is None else threshold
    scores, same = metrics.pair_scores(vectors, labels)
    eer, eer_threshold = metrics.equal_error_rate(scores, same)
    progress = progress or NoProgress()
    progress.start(runs, "clustering runs")
    runs_out = []
    for seed in range(runs):
        clustering = cluster_vectors(vectors, method=method, umap_dim=umap_dim, min_cluster_size=min_cluster_size, seed=seed)
        runs_out.append({**metrics.clustering_scores(labels, clustering.labels), "clusters": clustering.n_clusters,
                         "noise": clustering.n_noise / len(labels)})
        progress.advance(1)
    return Evaluation(encoder.name, len(labels), len(set(labels)), threshold, metrics.leave_one_out_top1(vectors, labels),
                      eer, eer_threshold, metrics.verification_at(scores, same, threshold), runs_out, embedded.failures)
