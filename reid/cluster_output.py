"""Clustering a folder and writing the result: copies per cluster, contact sheets, a JSON summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reid.clustering import NOISE, Clustering, check_method, cluster_vectors
from reid.contact_sheet import contact_sheet, overview
from reid.context import BodyContext
from reid.detectors.base import Box, Detector, load_face
from reid.embedding import NoProgress, Progress, embed_paths
from reid.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.fileio import copy_without_overwrite, save_image_atomic, write_json_atomic
from reid.images import require_images

NOISE_NAME = "noise"
OVERVIEW = "overview.png"  # every cluster's first faces, one row each
OVERVIEW_PER_CLUSTER = 8


@dataclass
class FolderClusters:
    paths: list[Path]  # one per face: an image with two faces appears twice
    clustering: Clustering
    failures: list[ImageLoadError] = field(default_factory=list)
    boxes: list[Box | None] = field(default_factory=list)
    no_face: list[Path] = field(default_factory=list)
    margin: float = 0.0
    root: Path | None = None  # the folder clustered: copies keep their path below it

    def relative_folder(self, i: int) -> Path:
        return self.paths[i].parent.relative_to(self.root) if self.root is not None else Path()

    def members(self) -> dict[str, list[int]]:
        """``cluster_00`` (largest) ... then ``noise``, each with its rows."""
        out: dict[str, list[int]] = {}
        width = max(2, len(str(self.clustering.n_clusters)))
        for c in range(self.clustering.n_clusters):
            out[f"cluster_{c:0{width}d}"] = [i for i, label in enumerate(self.clustering.labels) if label == c]
        noise = [i for i, label in enumerate(self.clustering.labels) if label == NOISE]
        if noise:
            out[NOISE_NAME] = noise
        return out

    def entry(self, i: int) -> str | dict:
        """A file path, or with a detector {"path", "box"}."""
        box = self.boxes[i] if self.boxes else None
        return str(self.paths[i]) if box is None else {"path": str(self.paths[i]), "box": box.to_json()}

    def groups(self) -> dict[str, list]:
        return {name: [self.entry(i) for i in rows] for name, rows in self.members().items()}

    def to_json(self) -> dict:
        return {"method": self.clustering.method, "umap_dim": self.clustering.reduced_to,
                "clusters": self.clustering.n_clusters, "noise": self.clustering.n_noise,
                "groups": self.groups(), "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
                "no_face": [str(p) for p in self.no_face]}


def cluster_folder(image_dir: Path, encoder: Encoder, *, method: str = "hdbscan", umap_dim: int = 32,
                   min_cluster_size: int = 5, seed: int = 0, merge_threshold: float | None = None,
                   detector: Detector | None = None, context: BodyContext | None = None,
                   progress: Progress | None = None) -> FolderClusters:
    check_method(method)
    embedded = embed_paths(encoder, require_images(image_dir, recursive=True), progress=progress, detector=detector,
                           context=context)
    if not len(embedded.paths):
        raise ReidError(f"{image_dir}: no face to cluster ({len(embedded.no_face)} images without a face, "
                        f"{len(embedded.failures)} unreadable)")
    clustering = cluster_vectors(embedded.vectors, method=method, umap_dim=umap_dim,
                                 min_cluster_size=min_cluster_size, seed=seed, merge_threshold=merge_threshold,
                                 progress=progress)
    return FolderClusters(embedded.paths, clustering, embedded.failures, embedded.boxes, embedded.no_face,
                          detector.margin if detector is not None else 0.0, Path(image_dir))


def write_clusters(found: FolderClusters, result_dir: Path, *, progress: Progress | None = None) -> None:
    """``result_dir/<group>/`` copies (face crops, with a detector), ``result_dir/<group>.png`` contact
    sheets, ``overview.png`` and ``clusters.json``."""
    result_dir = Path(result_dir)
    if result_dir.exists() and (not result_dir.is_dir() or any(result_dir.iterdir())):
        raise ReidError(f"{result_dir}: result folder exists and is not empty; choose a new folder (nothing was written)")
    progress = progress or NoProgress()
    progress.start(len(found.paths), "writing clusters")
    boxes = found.boxes or [None] * len(found.paths)
    strips = []

    def load(item):
        return load_face(item[0], item[1], found.margin)

    for name, rows in found.members().items():
        for i in rows:
            folder = result_dir / name / found.relative_folder(i)
            if boxes[i] is None:
                copy_without_overwrite(found.paths[i], folder)
            else:
                face = load_face(found.paths[i], boxes[i], found.margin)
                # the row number keeps names unique, and the folder was empty: nothing can be overwritten
                save_image_atomic(face, folder / f"{found.paths[i].stem}_face{i}.png")
            progress.advance(1)
        faces = [(found.paths[i], boxes[i]) for i in rows]
        save_image_atomic(contact_sheet(faces, name, load=load), result_dir / f"{name}.png")
        strips.append(contact_sheet(faces, name, load=load, thumb=64, columns=OVERVIEW_PER_CLUSTER,
                                    max_images=OVERVIEW_PER_CLUSTER))
    save_image_atomic(overview(strips), result_dir / OVERVIEW)
    write_json_atomic(result_dir / "clusters.json", found.to_json())
