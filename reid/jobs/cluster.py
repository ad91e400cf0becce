"""Clustering a folder and writing the result: copies per cluster, contact sheets, a JSON summary."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid.models.clustering import NOISE, Clustering, check_method, cluster_vectors
from reid.render.contact_sheet import contact_sheet, overview
from reid.models.context import BodyContext
from reid.models.detectors.base import Box, Detector, load_face
from reid.models.embedding import embed_paths
from reid.progress import NoProgress, Progress
from reid.models.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.io.files import copy_without_overwrite, save_image_atomic, staged_folder, write_json_atomic
from reid.io.inputs import gather, identical_files
from reid.io.result_files import CLUSTERS_JSON, EMBEDDINGS, save_embeddings
from reid.render.timeline import TIMELINE, timeline_picture
from reid.io.video import Frames, Sampling
from reid.models.tracks import Track, link_tracks, screen_timeline, track_vectors

NOISE_NAME = "noise"
OVERVIEW = "overview.png"  # every cluster's first faces, one row each
OVERVIEW_PER_CLUSTER = 8
SHEET_FACES = 64  # per cluster contact sheet


def purity(counts: dict[str, int] | None) -> str:
    """"62% Aoi (of 3 folders)": the largest sub-folder's share of a cluster, for labelled folders."""
    if not counts:
        return ""
    label, top = next(iter(counts.items()))
    mixed = f" (of {len(counts)} folders)" if len(counts) > 1 else ""
    return f"{top / sum(counts.values()):.0%} {label}{mixed}"


LARGE = 3.0  # a cluster this many times the median cluster, holding a quarter of the faces, likely joins characters


def oversized(members: dict[str, list[int]]) -> list[str]:
    """Clusters far larger than the others (several characters merged, most often): the ones worth splitting."""
    sizes = {name: len(rows) for name, rows in members.items() if name != "noise"}
    if len(sizes) < 3:
        return []
    median = sorted(sizes.values())[len(sizes) // 2]
    total = sum(len(rows) for rows in members.values())
    return [name for name, n in sizes.items() if n >= LARGE * median and n >= total / 4]


@dataclass
class FolderClusters:
    paths: list[Path]  # one per face: an image with two faces appears twice
    clustering: Clustering
    failures: list[ImageLoadError] = field(default_factory=list)
    boxes: list[Box | None] = field(default_factory=list)
    no_face: list[Path] = field(default_factory=list)
    margin: float = 0.0
    root: Path | None = None  # the folder clustered: copies keep their path below it
    vectors: np.ndarray | None = None  # the embeddings, to show each cluster from its most typical face out
    frames: Frames | None = None  # when videos were read: which video and time each frame file is
    tracks: list[Track] | None = None  # faces linked across the frames of a shot; clustered as one
    step: float = 0.0  # seconds one sampled frame stands for
    frames_final: Path | None = None  # where the frame files will be once the result is written
    copies: list[list[Path]] = field(default_factory=list)  # byte-identical images, each group's files

    def labels(self) -> list[str] | None:
        """The sub-folder each face's image is in, when every image is in one (a labelled folder)."""
        if self.root is None or self.frames is not None:  # frames live outside the folder clustered
            return None
        parts = [p.relative_to(self.root).parts for p in self.paths]
        return [q[0] for q in parts] if parts and all(len(q) > 1 for q in parts) else None

    def composition(self) -> dict[str, dict[str, int]]:
        """Per group, how many faces come from each sub-folder (empty for an unlabelled folder)."""
        labels = self.labels()
        if labels is None:
            return {}
        return {name: dict(Counter(labels[i] for i in rows).most_common()) for name, rows in self.members().items()}

    def sample(self, rows: list[int], k: int) -> list[int]:
        """At most ``k`` rows, from the face nearest the cluster's mean to the farthest, evenly spread between:
        a mixed cluster shows its strays instead of hiding them behind its first files."""
        if self.vectors is None or len(rows) <= 1:
            return rows[:k]
        members = self.vectors[rows]
        order = [rows[j] for j in np.argsort(-(members @ members.mean(axis=0)))]
        if len(order) <= k:
            return order
        return [order[j] for j in sorted(set(np.linspace(0, len(order) - 1, k).round().astype(int)))]

    def relative_folder(self, i: int) -> Path:
        if self.frames is not None and self.frames.of(self.paths[i]) is not None:
            return self.paths[i].parent.relative_to(self.frames.folder)
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

    def entry(self, i: int, absolute: bool = False) -> str | dict:
        """A file path, or with a detector {"path", "box"}; a video's frame is {"path": the video, "time", "frame"
        (the frame file, in the result folder), "box"}."""
        box = self.boxes[i] if self.boxes else None
        info = self.frames.of(self.paths[i]) if self.frames is not None else None
        if info is not None:
            frame = {"frame": str(self.frames_final / self.paths[i].relative_to(self.frames.folder))} \
                if absolute and self.frames_final is not None else {}
            return {"path": info.video, "time": info.time, **frame, **({"box": box.to_json()} if box else {})}
        path = str(self.paths[i].absolute() if absolute else self.paths[i])
        return path if box is None else {"path": path, "box": box.to_json()}

    def timeline(self) -> dict[str, dict]:
        """Per group with faces from videos: its time ranges per video and its screen time (seconds)."""
        if self.tracks is None:
            return {}
        label = {row: self.clustering.labels[row] for t in self.tracks for row in t.rows}
        names = {self.clustering.labels[rows[0]]: name for name, rows in self.members().items()}
        ranges: dict[str, dict[str, list]] = {}
        for track in self.tracks:
            if track.video is not None:
                ranges.setdefault(names[label[track.rows[0]]], {}).setdefault(track.video, []).append(track.span(self.step))
        return screen_timeline(ranges, last=NOISE_NAME)

    def groups(self, absolute: bool = False) -> dict[str, list]:
        return {name: [self.entry(i, absolute) for i in rows] for name, rows in self.members().items()}

    def to_json(self, absolute: bool = False) -> dict:
        """``absolute`` paths for the result folder's file, which must still name the images from elsewhere."""
        return {"method": self.clustering.method, "umap_dim": self.clustering.reduced_to,
                "clusters": self.clustering.n_clusters, "noise": self.clustering.n_noise, "margin": self.margin,
                "groups": self.groups(absolute),
                "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
                "no_face": [str(p) for p in self.no_face], "composition": self.composition(),
                "copies": [[str(p) for p in group] for group in self.copies], **self._video_json()}

    def _video_json(self) -> dict:
        if self.frames is None:
            return {}
        return {"videos": {v: {"duration": d, "shots": self.frames.shots.get(v, 0)}
                           for v, d in self.frames.durations.items()},
                "frame_step": self.step, "tracks": len(self.tracks or []), "timeline": self.timeline()}


def cluster_folder(image_dir: Path, encoder: Encoder, *, method: str = "hdbscan", umap_dim: int = 32,
                   min_cluster_size: int = 5, seed: int = 0, merge_threshold: float | None = None,
                   detector: Detector | None = None, context: BodyContext | None = None,
                   sampling: Sampling | None = None, frames_dir: Path | None = None, frames_final: Path | None = None,
                   progress: Progress | None = None) -> FolderClusters:
    """Cluster the faces in ``image_dir``'s images and, with ``sampling``, its videos' frames (written under
    ``frames_dir``; ``frames_final`` is where they will be once the result is written). The faces a shot
    repeats are linked into tracks and clustered as one, so ``min_cluster_size`` counts appearances."""
    check_method(method)
    paths, frames = gather(image_dir, sampling, frames_dir, progress=progress)
    embedded = embed_paths(encoder, paths, progress=progress, detector=detector, context=context)
    if frames is not None:
        embedded.failures[:0] = frames.failures
    if not len(embedded.paths):
        raise ReidError(f"{image_dir}: no face to cluster ({len(embedded.no_face)} images without a face, "
                        f"{len(embedded.failures)} unreadable)")
    tracks = None
    vectors = embedded.vectors
    if frames is not None:
        tracks = link_tracks([frames.of(p) for p in embedded.paths], embedded.boxes or [None] * len(embedded.paths),
                             embedded.vectors)
        vectors = track_vectors(tracks, embedded.vectors)
    clustering = cluster_vectors(vectors, method=method, umap_dim=umap_dim,
                                 min_cluster_size=min_cluster_size, seed=seed, merge_threshold=merge_threshold,
                                 progress=progress)
    if tracks is not None:  # every face takes its track's cluster
        labels = np.empty(len(embedded.paths), dtype=clustering.labels.dtype)
        for track, label in zip(tracks, clustering.labels):
            labels[track.rows] = label
        clustering = Clustering(labels, clustering.method, clustering.reduced_to)
    step = (sampling.every or 0.0) if sampling is not None else 0.0
    images = [p for p in embedded.paths if frames is None or frames.of(p) is None]  # a still shot repeats its frames
    return FolderClusters(embedded.paths, clustering, embedded.failures, embedded.boxes, embedded.no_face,
                          detector.margin if detector is not None else 0.0, Path(image_dir), embedded.vectors,
                          frames, tracks, step, frames_final, identical_files(images))


def write_clusters(found: FolderClusters, result_dir: Path, *, progress: Progress | None = None) -> None:
    """``result_dir/<group>/`` copies (face crops, with a detector), ``result_dir/<group>.png`` contact
    sheets, ``overview.png``, ``clusters.json`` and ``embeddings.npy`` (its faces' vectors, in the JSON's order, for
    ``reid review``). ``result_dir`` (new or empty) appears complete or not at all."""
    with staged_folder(result_dir) as staging:
        _write_clusters(found, staging, progress or NoProgress())


def _write_clusters(found: FolderClusters, result_dir: Path, progress: Progress) -> None:
    progress.start(len(found.paths), "writing clusters")
    boxes = found.boxes or [None] * len(found.paths)
    composition = found.composition()
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
        title = name + (f", {purity(composition[name])}" if composition.get(name) else "")
        sheet = [(found.paths[i], boxes[i]) for i in found.sample(rows, SHEET_FACES)]
        save_image_atomic(contact_sheet(sheet, title, total=len(rows), load=load), result_dir / f"{name}.png")
        strip = [(found.paths[i], boxes[i]) for i in found.sample(rows, OVERVIEW_PER_CLUSTER)]
        strips.append(contact_sheet(strip, title, total=len(rows), load=load, thumb=64, columns=OVERVIEW_PER_CLUSTER))
    save_image_atomic(overview(strips), result_dir / OVERVIEW)
    if found.frames is not None:
        timeline = found.timeline()
        if timeline:
            faces = {name: found.sample(rows, 1)[0] for name, rows in found.members().items()}
            save_image_atomic(timeline_picture(timeline, found.frames.durations,
                                               {n: load((found.paths[i], boxes[i])) for n, i in faces.items()}),
                              result_dir / TIMELINE)
        # the frames the faces were cut from, named by time stamp; the JSON points at them here
        os.replace(found.frames.folder, result_dir / "frames")
    if found.vectors is not None:
        save_embeddings(result_dir / EMBEDDINGS, found.vectors[[i for rows in found.members().values() for i in rows]])
    write_json_atomic(result_dir / CLUSTERS_JSON, found.to_json(absolute=True))
