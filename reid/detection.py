"""``reid detect``: find the faces in a folder of illustrations, save the crops and a JSON of boxes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reid.detectors.base import Box, Detector, crop
from reid.embedding import NoProgress, Progress, readable_images
from reid.errors import ImageLoadError
from reid.fileio import save_image_atomic, staged_folder, write_json_atomic
from reid.images import require_images


@dataclass
class Detections:
    detector: str
    margin: float
    faces: dict[Path, list[Box]] = field(default_factory=dict)  # every readable image, face-less ones too
    failures: list[ImageLoadError] = field(default_factory=list)
    crops: dict[str, dict] = field(default_factory=dict)  # crop path under ``out`` -> {"source", "box"}

    @property
    def no_face(self) -> list[Path]:
        return [path for path, boxes in self.faces.items() if not boxes]

    def rate(self) -> float:
        """Share of readable images with at least one face."""
        return 1 - len(self.no_face) / len(self.faces) if self.faces else 0.0

    def to_json(self) -> dict:
        return {"detector": self.detector, "margin": self.margin, "images": len(self.faces),
                "with_face": len(self.faces) - len(self.no_face), "faces": sum(map(len, self.faces.values())),
                "detection_rate": self.rate(),
                "boxes": {str(p): [b.to_json() for b in boxes] for p, boxes in self.faces.items()},
                "no_face": [str(p) for p in self.no_face], "crops": self.crops,
                "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures]}


def detect_folder(image_dir: Path, detector: Detector, *, out: Path | None = None,
                  progress: Progress | None = None) -> Detections:
    """Detect faces in every image; with ``out`` (new or empty) also write the crops (grown by the detector's
    margin) as ``out/<the image's folder below image_dir>/<stem>_face<k>.png`` and ``detections.json``, which
    names each crop's source image and box. ``out`` appears complete or not at all."""
    paths = require_images(image_dir, recursive=True)
    if out is None:
        return _detect(paths, image_dir, detector, None, progress or NoProgress())
    with staged_folder(out) as staging:  # checks ``out`` before the work
        result = _detect(paths, image_dir, detector, staging, progress or NoProgress())
        write_json_atomic(staging / "detections.json", result.to_json())
    return result


def _detect(paths: list[Path], image_dir: Path, detector: Detector, out: Path | None, progress: Progress) -> Detections:
    progress.start(len(paths), f"detecting faces ({detector.name})")
    result = Detections(detector.name, detector.margin)
    stems = Counter((path.parent, path.stem) for path in paths)
    for path, image in readable_images(paths, result.failures, progress):
        result.faces[path] = detector.detect(image)
        # a.png and a.jpg side by side would make the same crop names: those keep their suffix
        stem = path.stem if stems[(path.parent, path.stem)] == 1 else path.name.replace(".", "_")
        for k, box in enumerate(result.faces[path] if out is not None else []):
            name = (path.parent.relative_to(image_dir) / f"{stem}_face{k}.png").as_posix()
            save_image_atomic(crop(image, box, detector.margin), out / name)
            result.crops[name] = {"source": str(path), "box": box.to_json()}
    return result
