"""Clustering a folder and writing the result: copies per cluster, contact sheets, a JSON summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reid.clustering import NOISE, Clustering, check_method, cluster_vectors
from reid.contact_sheet import contact_sheet
from reid.embedding import NoProgress, Progress, embed_paths
from reid.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.fileio import copy_without_overwrite, save_image_atomic, write_json_atomic
from reid.images import require_images

NOISE_NAME = "noise"


@dataclass
class FolderClusters:
    paths: list[Path]
    clustering: Clustering
    failures: list[ImageLoadError] = field(default_factory=list)

    def groups(self) -> dict[str, list[str]]:
        """``cluster_00`` (largest) ... then ``noise``, each with its image paths."""
        out: dict[str, list[str]] = {}
        width = max(2, len(str(self.clustering.n_clusters)))
        for c in range(self.clustering.n_clusters):
            out[f"cluster_{c:0{width}d}"] = [str(p) for p, label in zip(self.paths, self.clustering.labels) if label == c]
        noise = [str(p) for p, label in zip(self.paths, self.clustering.labels) if label == NOISE]
        if noise:
            out[NOISE_NAME] = noise
        return out

    def to_json(self) -> dict:
        return {"method": self.clustering.method, "umap_dim": self.clustering.reduced_to,
                "clusters": self.clustering.n_clusters, "noise": self.clustering.n_noise,
                "groups": self.groups(), "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures]}


def cluster_folder(image_dir: Path, encoder: Encoder, *, method: str = "hdbscan", umap_dim: int = 32,
                   min_cluster_size: int = 5, seed: int = 0, progress: Progress | None = None) -> FolderClusters:
    check_method(method)
    embedded = embed_paths(encoder, require_images(image_dir), progress=progress)
    clustering = cluster_vectors(embedded.vectors, method=method, umap_dim=umap_dim,
                                 min_cluster_size=min_cluster_size, seed=seed)
    return FolderClusters(embedded.paths, clustering, embedded.failures)


def write_clusters(found: FolderClusters, result_dir: Path, *, progress: Progress | None = None) -> None:
    """``result_dir/<group>/`` copies, ``result_dir/<group>.png`` contact sheets, ``clusters.json``."""
    result_dir = Path(result_dir)
    if result_dir.exists() and (not result_dir.is_dir() or any(result_dir.iterdir())):
        raise ReidError(f"{result_dir}: result folder exists and is not empty; choose a new folder (nothing was written)")
    groups = found.groups()
    progress = progress or NoProgress()
    progress.start(len(found.paths), "writing clusters")
    for name, members in groups.items():
        for path in members:
            copy_without_overwrite(Path(path), result_dir / name)
            progress.advance(1)
        save_image_atomic(contact_sheet([Path(p) for p in members], name), result_dir / f"{name}.png")
    write_json_atomic(result_dir / "clusters.json", found.to_json())
