"""Sorting target images among enrolled characters (``reid.search.ranking`` scores them in each mode).

Below the threshold the image is ``unknown``; the nearest character is still reported. The default
threshold is the one calibrated on the enrollment for the mode (``reid.search.open_set``), else the encoder's.
"""

from __future__ import annotations

import filecmp
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from reid.models.context import BodyContext
from reid.models.detectors.base import Detector
from reid.models.embedding import embed_paths
from reid.choices import NoFace
from reid.progress import NoProgress, Progress
from reid.models.encoders.base import Encoder
from reid.search.enrollment import UNKNOWN, Enrolled
from reid.errors import ImageLoadError, ReidError
from reid.io.files import (check_outside, check_output_folder, check_replaceable, copy_or_reuse, folder_lock,
                           safe_folder_name, write_json_atomic)
from reid.search.open_set import Calibration
from reid.search.ranking import Mode, rank_characters
from reid.io.result_files import CLASSIFICATION_JSON, EMBEDDINGS, save_embeddings
from reid.io.video import Frames
from reid.models.tracks import screen_timeline

__all__ = ["Mode", "Match", "Classification", "classify_paths", "check_result_dir", "copy_into_folders", "default_threshold"]


@dataclass
class Match:
    path: str
    relative_path: str  # under the target folder; the file name alone when there is none
    character: str  # UNKNOWN when nearest_score < threshold
    score: float
    nearest: str
    runner_up: str | None
    runner_up_score: float | None
    copied_to: str | None = None
    box: list[int] | None = None  # the face, when a detector cut it from the image
    whole_image: bool = False  # the detector found no face and the whole image was embedded instead
    video: str | None = None  # a video's frame: the video, and the frame's time in seconds
    time: float | None = None


@dataclass
class Classification:
    matches: list[Match]
    failures: list[ImageLoadError] = field(default_factory=list)
    threshold: float = 0.0
    mode: str = Mode.any.value
    no_face: list[Path] = field(default_factory=list)
    threshold_source: str = "--threshold"
    calibration: dict | None = None  # the enrollment's open-set calibration for this mode
    no_face_policy: str = NoFace.skip.value
    vectors: np.ndarray | None = None  # one row per match, for ``reid review``
    frame_step: float = 0.0  # seconds one sampled video frame stands for

    def timeline(self) -> dict[str, dict]:
        """Per character seen in a video: its time ranges per video and its screen time (seconds)."""
        ranges: dict[str, dict[str, list]] = {}
        for m in self.matches:
            if m.video is not None:
                ranges.setdefault(m.character, {}).setdefault(m.video, []).append((m.time, m.time + self.frame_step))
        return screen_timeline(ranges, last=UNKNOWN)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.matches:
            counts[m.character] = counts.get(m.character, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (kv[0] == UNKNOWN, -kv[1], kv[0])))

    def to_json(self, absolute: bool = False) -> dict:
        """``absolute`` paths for the result folder's file, which must still name the images from elsewhere."""
        matches = [asdict(m) for m in self.matches]
        if absolute:
            matches = [{**m, "path": str(Path(m["path"]).absolute()),
                        "copied_to": str(Path(m["copied_to"]).absolute()) if m["copied_to"] else None} for m in matches]
        for m in matches:  # a frame file may be temporary: the video and the time name the face
            if m["video"] is not None:
                frame = m.pop("copied_to")
                m["frame"] = str(Path(frame).absolute()) if absolute and frame else frame
                m["path"] = m["video"]
            else:
                del m["video"], m["time"]
        video = {"frame_step": self.frame_step, "timeline": self.timeline()} if any(m.video for m in self.matches) else {}
        return {"mode": self.mode, "threshold": self.threshold, "threshold_source": self.threshold_source,
                "calibration": self.calibration, "counts": self.counts(), "matches": matches,
                "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
                "no_face": [str(p) for p in self.no_face], "no_face_policy": self.no_face_policy, **video}


def default_threshold(calibrations: dict[Mode, Calibration | None], encoder_threshold: float,
                      mode: Mode) -> tuple[float, str]:
    """The mode's threshold calibrated on the enrollment when it could be, else the encoder's; and which."""
    calibration = calibrations.get(Mode(mode))
    if calibration is not None and calibration.threshold is not None:
        return calibration.threshold, "calibrated on the enrollment"
    return encoder_threshold, "the encoder's" + (f" ({calibration.reason})" if calibration is not None else "")


def classify_paths(enrolled: Enrolled, encoder: Encoder, targets: Sequence[Path], *, mode: Mode = Mode.any,
                   threshold: float | None = None, detector: Detector | None = None,
                   context: BodyContext | None = None, root: Path | None = None, no_face: NoFace = NoFace.skip,
                   frames: Frames | None = None, frame_step: float = 0.0, closed_set: bool = False,
                   progress: Progress | None = None) -> Classification:
    """One match per image, or per face with a ``detector`` (face-less images are listed in ``no_face``, and
    embedded whole with ``no_face="whole"``). Paths under ``root`` are also named relative to it (sub-folders
    are kept when copying); video frames (``frames``) relative to the frames folder, with their video and time.
    ``closed_set``: the folder holds only enrolled characters, so every face gets its nearest one, never unknown."""
    mode = Mode(mode)
    check_closed_set(closed_set, threshold)
    if mode == Mode.head and enrolled.head is None:
        raise ReidError("Head mode needs the enrollment's classifier head; enroll with head=True")
    source = "--threshold"
    if threshold is None:
        threshold, source = default_threshold(enrolled.calibration, encoder.threshold, mode)
    if closed_set:
        source = "--closed-set: no unknown"
    embedded = embed_paths(encoder, targets, progress=progress, description="classifying", detector=detector,
                           context=context, no_face=no_face)
    matches = []
    if len(embedded.paths):
        for i, ranked in enumerate(rank_characters(enrolled.index, embedded.vectors, mode, enrolled.head)):
            nearest, score = ranked[0]
            runner_up, runner_up_score = ranked[1] if len(ranked) > 1 else (None, None)
            character = nearest if closed_set or score >= threshold else UNKNOWN
            entry = embedded.entry(i)
            info = frames.of(embedded.paths[i]) if frames is not None else None
            base = frames.folder if info is not None else root
            relative = Path(entry["path"]).relative_to(base).as_posix() if base is not None else Path(entry["path"]).name
            matches.append(Match(entry["path"], relative, character, score, nearest, runner_up, runner_up_score,
                                 box=entry.get("box"), whole_image=entry.get("whole_image", False),
                                 video=info.video if info else None, time=info.time if info else None))
    calibration = enrolled.calibration.get(mode)
    policy = NoFace.skip if context is not None else NoFace(no_face)  # a body needs a face to sit under
    failures = (frames.failures if frames is not None else []) + embedded.failures
    return Classification(matches, failures, float(threshold), mode.value, embedded.no_face, source,
                          calibration.to_json() if calibration is not None else None, policy.value,
                          embedded.vectors if matches else None, frame_step)


def check_closed_set(closed_set: bool, threshold: float | None) -> None:
    if closed_set and threshold is not None:
        raise ReidError("--closed-set gives every face its nearest character, so it takes no --threshold; use one or the other")


def copy_into_folders(result: Classification, result_dir: Path, *, progress: Progress | None = None) -> None:
    """COPY (never move) each image into ``result_dir/<character>/<its relative path>``; existing files are
    never overwritten. An image with several faces goes into each of its characters' folders once. Then
    ``classification.json`` and ``embeddings.npy`` (for ``reid review``) replace an earlier run's, and the copies
    that run made and this one did not are removed, so the folders and the JSON agree. Two runs into one folder
    take turns; an interrupted run removes the copies it made and leaves the earlier result as it was."""
    result_dir = check_output_folder(result_dir)
    progress = progress or NoProgress()
    with folder_lock(result_dir, exclusive=True):
        check_result_dir(result_dir)  # again: a run that held the lock may have written here meanwhile
        earlier = earlier_copies(result_dir)
        progress.start(len(result.matches), "copying")
        copied: dict[tuple[str, str], Path] = {}
        made: list[Path] = []
        try:
            for match in result.matches:
                key = (match.path, match.character)
                if key not in copied:
                    folder = result_dir / safe_folder_name(match.character) / Path(match.relative_path).parent
                    copied[key], new = copy_or_reuse(Path(match.path), folder)
                    made += [copied[key]] if new else []
                match.copied_to = str(copied[key])
                progress.advance(1)
        except BaseException:
            for path in made:
                path.unlink(missing_ok=True)
            raise
        kept = {Path(os.path.abspath(path)) for path in copied.values()}
        remove_copies({copy: source for copy, source in earlier.items() if copy not in kept}, result_dir)
        if result.vectors is not None:
            save_embeddings(result_dir / EMBEDDINGS, result.vectors)
        else:
            (result_dir / EMBEDDINGS).unlink(missing_ok=True)  # an earlier run's rows would not match these
        write_json_atomic(result_dir / CLASSIFICATION_JSON, result.to_json(absolute=True))


def check_result_dir(result_dir: Path, target_dir: Path | None = None) -> Path:
    """Fail before the work: ``result_dir`` can be written, is not inside ``target_dir`` (a re-run would classify
    its own copies), and holds no file of ours' names that reid did not write."""
    if target_dir is not None and not Path(target_dir).is_file():
        check_outside(Path(result_dir), Path(target_dir), "--result-dir", "--target-dir")
    result_dir = check_output_folder(result_dir)
    for name in (CLASSIFICATION_JSON, EMBEDDINGS):
        check_replaceable(result_dir / name, ours=_ours, option="--result-dir")
    return result_dir


def earlier_copies(result_dir: Path) -> dict[Path, Path | None]:
    """The copies an earlier run listed in ``result_dir/classification.json`` (absolute paths inside
    ``result_dir``), each with the image it copied (None for a video frame, whose file was temporary). The file is
    one reid wrote, or absent: ``check_result_dir`` has refused any other."""
    try:
        data = json.loads((result_dir / CLASSIFICATION_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    matches = data.get("matches") if isinstance(data, dict) else None
    root = Path(os.path.abspath(result_dir))
    found: dict[Path, Path | None] = {}
    for match in matches if isinstance(matches, list) else []:
        if not isinstance(match, dict):
            continue
        copy, source = match.get("copied_to") or match.get("frame"), None if "frame" in match else match.get("path")
        if isinstance(copy, str) and (source is None or isinstance(source, str)):
            copy_path = Path(os.path.abspath(result_dir / copy))  # ".." folded, so it cannot climb out
            if copy_path.is_relative_to(root) and copy_path != root:  # a hand-edited JSON cannot point elsewhere
                found[copy_path] = Path(source) if source is not None else None
    return found


def remove_copies(copies: dict[Path, Path | None], result_dir: Path) -> None:
    """Remove earlier copies that are still what was copied (identical to their image; a frame: as written), then
    the folders they leave empty. A file that was changed since is the user's now and stays."""
    root = Path(os.path.abspath(result_dir))
    for copy, source in copies.items():
        try:
            if source is not None and not filecmp.cmp(source, copy, shallow=False):
                continue  # changed since: the user's file now
            copy.unlink()
        except OSError:  # already gone, or its image is (then the copy may be the only one left): keep it
            continue
        for folder in copy.parents:
            if folder == root or not folder.is_relative_to(root):
                break
            try:
                folder.rmdir()
            except OSError:  # not empty
                break


def _ours(path: Path) -> bool:
    """classification.json / embeddings.npy as an earlier ``classify --result-dir`` left them."""
    if path.suffix == ".npy":
        return (path.parent / CLASSIFICATION_JSON).exists()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"mode", "matches", "threshold"} <= data.keys()
