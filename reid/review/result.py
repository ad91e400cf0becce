"""A result folder as ``reid review`` sees it: faces (an image and a box), the groups the command made, and the
faces' embeddings when the folder has them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reid.models.detectors.base import Box
from reid.search.enrollment import UNKNOWN
from reid.errors import ReidError
from reid.io.files import read_json
from reid.io.result_files import CLASSIFICATION_JSON, CLUSTERS_JSON, EMBEDDINGS

NOISE = "noise"  # the key of the group of faces that belong to no character


@dataclass(frozen=True)
class Face:
    id: int  # its row in the result's JSON, flattened in order
    path: Path
    box: Box | None  # None: the whole image is the face
    time: float | None = None  # a video's frame: its time in seconds (``path`` is the frame file)

    @property
    def label(self) -> str:
        return self.path.name + (f" [{self.box.left},{self.box.top},{self.box.right},{self.box.bottom}]" if self.box else "")


@dataclass
class ReviewResult:
    folder: Path
    kind: str  # "cluster" or "classify"
    faces: list[Face]
    groups: dict[str, list[int]]  # as the command left them; NOISE last when there is one
    names: dict[str, str]  # groups the command already named (classify's characters)
    margin: float  # grown around each box when the command cropped it
    vectors: np.ndarray | None  # unit rows, one per face; None when the folder has no usable embeddings
    fingerprint: str  # of the JSON: decisions refer to its rows and must not be replayed onto another
    notes: list[str]  # what is missing and what it costs (shown on the page)


def load_result(folder: str | Path) -> ReviewResult:
    """Read ``folder`` as ``cluster --result-dir`` or ``classify --result-dir`` wrote it."""
    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise ReidError(f"{folder}: not a folder; pass the folder that cluster --result-dir or classify "
                        "--result-dir wrote")
    if (folder / CLUSTERS_JSON).is_file():
        path, kind = folder / CLUSTERS_JSON, "cluster"
    elif (folder / CLASSIFICATION_JSON).is_file():
        path, kind = folder / CLASSIFICATION_JSON, "classify"
    else:
        raise ReidError(f"{folder}: no {CLUSTERS_JSON} or {CLASSIFICATION_JSON} in it, so not a reid result; pass "
                        "the folder that cluster --result-dir or classify --result-dir wrote")
    data = read_json(path, what=f"{kind} result", error=ReidError)
    try:
        faces, groups, names = (_clusters if kind == "cluster" else _classification)(data)
        margin = float(data.get("margin") or 0.0)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReidError(f"{path}: not the layout reid writes ({type(exc).__name__}: {exc}); pass a result folder "
                        "written by reid, unedited") from None
    notes: list[str] = []
    vectors = _embeddings(folder / EMBEDDINGS, len(faces), notes)
    return ReviewResult(folder, kind, faces, groups, names, margin, vectors,
                        hashlib.sha256(path.read_bytes()).hexdigest()[:16], notes)


def _face(i: int, entry) -> Face:
    if isinstance(entry, str):
        return Face(i, Path(entry), None)
    box = entry.get("box")
    # a video's face: "path" is the video, "frame" the frame file the result keeps
    return Face(i, Path(entry.get("frame") or entry["path"]), Box(*map(int, box)) if box else None, entry.get("time"))


def _clusters(data: dict) -> tuple[list[Face], dict[str, list[int]], dict[str, str]]:
    faces: list[Face] = []
    groups: dict[str, list[int]] = {}
    for key, entries in data["groups"].items():
        groups[key] = []
        for entry in entries:
            faces.append(_face(len(faces), entry))
            groups[key].append(faces[-1].id)
    if NOISE in groups:  # last, as the page shows it
        groups[NOISE] = groups.pop(NOISE)
    return faces, groups, {}


def _classification(data: dict) -> tuple[list[Face], dict[str, list[int]], dict[str, str]]:
    faces: list[Face] = []
    by_character: dict[str, list[int]] = {}
    for match in data["matches"]:
        faces.append(_face(len(faces), match))
        by_character.setdefault(match["character"], []).append(faces[-1].id)
    known = sorted((c for c in by_character if c != UNKNOWN), key=lambda c: (-len(by_character[c]), c))
    width = max(2, len(str(len(known))))
    groups = {f"character_{k:0{width}d}": by_character[c] for k, c in enumerate(known)}
    names = {f"character_{k:0{width}d}": c for k, c in enumerate(known)}
    if UNKNOWN in by_character:
        groups[NOISE] = by_character[UNKNOWN]
    return faces, groups, names


def _embeddings(path: Path, rows: int, notes: list[str]) -> np.ndarray | None:
    if not path.is_file():
        notes.append(f"no {EMBEDDINGS} in the result (written by reid since review exists): no merge suggestions, "
                     "faces in file order")
        return None
    try:
        vectors = np.load(path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as exc:
        notes.append(f"{path}: unreadable ({exc}); no merge suggestions, faces in file order")
        return None
    if vectors.ndim != 2 or len(vectors) != rows:
        notes.append(f"{path}: {vectors.shape[0] if vectors.ndim else 0} rows for {rows} faces, so not this "
                     "result's; no merge suggestions, faces in file order")
        return None
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))
