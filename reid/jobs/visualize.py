"""``reid visualize``: the embeddings of a folder on a UMAP 2-D map, coloured by cluster and, for a
labelled folder, by character; drawn with Pillow."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from reid.models.clustering import NOISE, cluster_vectors, reduce_umap
from reid.models.context import BodyContext
from reid.models.detectors.base import Detector, load_face
from reid.models.embedding import Embedded, embed_paths
from reid.progress import NoProgress, Progress
from reid.models.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.io.inputs import labelled_images
from reid.io.files import save_image_atomic
from reid.io.images import list_images

PANEL, MARGIN, THUMB = 560, 30, 28


def _palette(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct colours (golden-ratio hues); noise is drawn grey."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 0.85)) for i in range(n)]


def _panel(points: np.ndarray, groups: list[str], title: str, faces: list[Image.Image | None] | None) -> Image.Image:
    image = Image.new("RGB", (PANEL, PANEL + MARGIN), "white")
    draw = ImageDraw.Draw(image)
    names = sorted(set(groups) - {"noise"})
    colour = dict(zip(names, _palette(len(names))), noise=(170, 170, 170))
    lo, hi = points.min(axis=0), points.max(axis=0)
    xy = MARGIN + (points - lo) / np.maximum(hi - lo, 1e-9) * (PANEL - 2 * MARGIN)
    for i, ((x, y), group) in enumerate(zip(xy, groups)):
        thumb = faces[i] if faces is not None else None
        if thumb is not None:
            image.paste(thumb, (int(x - thumb.width / 2), int(y - thumb.height / 2) + MARGIN))
            draw.rectangle([x - thumb.width / 2 - 1, y - thumb.height / 2 + MARGIN - 1,
                            x + thumb.width / 2, y + thumb.height / 2 + MARGIN], outline=colour[group], width=2)
            continue
        draw.ellipse([x - 4, y - 4 + MARGIN, x + 4, y + 4 + MARGIN], fill=colour[group])
    draw.text((8, 6), title, fill="black")
    for k, name in enumerate(names[:12] + (["noise"] if "noise" in colour and "noise" in groups else [])):
        draw.text((PANEL - 150, 6 + 12 * k), name[:22], fill=colour[name])
    return image


def _thumbnails(embedded: Embedded, margin: float) -> list[Image.Image | None]:
    """Each row's face as a thumbnail (cut from its image when a detector found it); None when unreadable."""
    faces: list[Image.Image | None] = []
    for path, box in zip(embedded.paths, embedded.boxes):
        try:
            face = load_face(path, box, margin)
        except ImageLoadError:
            faces.append(None)
            continue
        face.thumbnail((THUMB, THUMB))
        faces.append(face)
    return faces


def visualize(folder: str | Path, encoder: Encoder, out: str | Path, *, method: str = "hdbscan", umap_dim: int = 32,
              min_cluster_size: int = 5, seed: int = 0, thumbnails: bool = False, detector: Detector | None = None,
              context: BodyContext | None = None, progress: Progress | None = None) -> dict:
    """Write the map to ``out`` (PNG); returns what was drawn (counts, failures)."""
    folder = Path(folder)
    labelled = any(p.is_dir() and list_images(p) for p in folder.iterdir()) if folder.is_dir() else False
    if labelled:
        pairs = labelled_images(folder)
        paths, truth = [p for _, p in pairs], {p: label for label, p in pairs}
    else:
        paths, truth = list_images(folder), None
    embedded = embed_paths(encoder, paths, progress=progress, detector=detector, context=context)
    progress = progress or NoProgress()
    progress.start(1, f"laying out {len(embedded.paths)} embeddings in 2-D with UMAP")
    points = reduce_umap(embedded.vectors, 2, seed=seed)
    if points is None:
        raise ReidError(f"{folder}: a map needs at least 10 readable images, or faces found in them (found {len(embedded.paths)})")
    clusters = cluster_vectors(embedded.vectors, method=method, umap_dim=umap_dim, min_cluster_size=min_cluster_size,
                               seed=seed, progress=progress)
    shown = _thumbnails(embedded, detector.margin if detector is not None else 0.0) if thumbnails else None
    panels = [_panel(points, [f"cluster {c}" if c != NOISE else "noise" for c in clusters.labels],
                     f"{encoder.name}: {clusters.n_clusters} clusters ({method})", shown)]
    if truth is not None:
        panels.append(_panel(points, [truth[p] for p in embedded.paths], "true characters", shown))
    sheet = Image.new("RGB", (PANEL * len(panels), PANEL + MARGIN), "white")
    for k, panel in enumerate(panels):
        sheet.paste(panel, (PANEL * k, 0))

    save_image_atomic(sheet, Path(out))
    return {"out": str(out), "images": len(embedded.paths), "clusters": clusters.n_clusters, "labelled": truth is not None,
            "skipped": [{"path": str(f.path), "reason": f.reason} for f in embedded.failures],
            "no_face": [str(p) for p in embedded.no_face]}
