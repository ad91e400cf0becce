"""``reid detect``: find the faces in a folder of illustrations, save the crops and a JSON of boxes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reid.models.contract import detect_checked, report_dropped
from reid.models.detectors.base import Box, Detector, crop
from reid.progress import NoProgress, Progress
from reid.io.images import readable_images
from reid.errors import ImageLoadError
from reid.io.files import check_new_folder, check_outside, save_image_atomic, staged_folder, write_json_atomic
from reid.io.inputs import frames_folder, gather
from reid.io.video import Frames, Sampling


@dataclass
class Detections:
    detector: str
    margin: float
    faces: dict[Path, list[Box]] = field(default_factory=dict)  # every readable image, face-less ones too
    failures: list[ImageLoadError] = field(default_factory=list)
    crops: dict[str, dict] = field(default_factory=dict)  # crop path under ``out`` -> {"source", "box"}
    frames: Frames | None = None  # when videos were read
    min_score: float | None = None  # boxes scoring under it were dropped
    below_min_score: int = 0
    outside_image: int = 0  # boxes the detector returned with no area inside the image, left out

    def name(self, path: Path) -> str:
        """An image's path; a video frame as ``video#t=SECONDS`` (a W3C media fragment)."""
        info = self.frames.of(path) if self.frames is not None else None
        return str(path) if info is None else f"{info.video}#t={info.time:g}"

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
                "boxes": {self.name(p): [b.to_json() for b in boxes] for p, boxes in self.faces.items()},
                "scores": {self.name(p): [round(b.score, 4) for b in boxes] for p, boxes in self.faces.items()},
                "min_score": self.min_score, "below_min_score": self.below_min_score, "outside_image": self.outside_image,
                "no_face": [self.name(p) for p in self.no_face], "crops": self.crops,
                "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures]}


def detect_folder(image_dir: Path, detector: Detector, *, out: Path | None = None, sampling: Sampling | None = None,
                  min_score: float | None = None, progress: Progress | None = None) -> Detections:
    """Detect faces in every image (and, with ``sampling``, in the frames of every video); with ``out`` (new or
    empty) also write the crops (grown by the detector's margin) as ``out/<the image's folder below
    image_dir>/<stem>_face<k>.png`` (a frame's stem is its video's and its time stamp) and ``detections.json``,
    which names each crop's source image (or video and time), box and score. ``out`` appears complete or not at all.
    Boxes scoring under ``min_score`` (the detector's own score scale) are dropped and counted."""
    progress = progress or NoProgress()
    if out is not None:
        check_new_folder(out)
        check_outside(out, image_dir, "--out", "IMAGE_DIR")
    with frames_folder(None) as (frames_dir, _):
        paths, frames = gather(image_dir, sampling, frames_dir, progress=progress)
        if out is None:
            return _detect(paths, image_dir, detector, None, frames, min_score, progress)
        with staged_folder(out) as staging:
            result = _detect(paths, image_dir, detector, staging, frames, min_score, progress)
            write_json_atomic(staging / "detections.json", result.to_json())
    return result


def _detect(paths: list[Path], image_dir: Path, detector: Detector, out: Path | None, frames: Frames | None,
            min_score: float | None, progress: Progress) -> Detections:
    progress.start(len(paths), f"detecting faces ({detector.name})")
    result = Detections(detector.name, detector.margin, frames=frames, min_score=min_score)
    if frames is not None:
        result.failures += frames.failures
    stems = Counter((path.parent, path.stem) for path in paths)
    for path, image in readable_images(paths, result.failures, progress):
        found, left_out = detect_checked(detector, image)
        result.outside_image += left_out
        result.faces[path] = [box for box in found if min_score is None or box.score >= min_score]
        result.below_min_score += len(found) - len(result.faces[path])
        # a.png and a.jpg side by side would make the same crop names: those keep their suffix
        stem = path.stem if stems[(path.parent, path.stem)] == 1 else path.name.replace(".", "_")
        info = frames.of(path) if frames is not None else None
        for k, box in enumerate(result.faces[path] if out is not None else []):
            folder = path.parent.relative_to(frames.folder if info is not None else image_dir)
            name = (folder / f"{stem}_face{k}.png").as_posix()
            save_image_atomic(crop(image, box, detector.margin), out / name)
            source = {"source": info.video, "time": info.time} if info is not None else {"source": str(path)}
            result.crops[name] = {**source, "box": box.to_json(), "score": round(box.score, 4)}
    report_dropped(detector, result.outside_image)
    return result
