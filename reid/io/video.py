"""Videos as frames: decoded with PyAV, cut into shots with PySceneDetect's content detector, sampled every N
seconds and/or once per shot, and written as JPEG files named by their time stamp, so every command that reads
images reads a video's frames. ``frames.json`` beside them says which video, time and shot each frame is."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from PIL import Image

from reid.errors import ReidError

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"})
FRAMES_JSON = "frames.json"
SCENE_WIDTH = 160  # the scene detector compares colour histograms: small frames are enough, and fast
SHOT_SAMPLE_DELAY = 0.2  # seconds after a cut: the first frames of a shot are often a fade or a blur


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Sampling:
    every: float | None = 1.0  # seconds between frames; None: only with ``scenes``
    scenes: bool = False  # also one frame per shot, just after each cut
    skip: float = 0.0  # seconds from the start left out (an opening)
    stop: float | None = None  # seconds after which nothing is read (an ending)
    max_width: int = 1280  # frames are downscaled to this width
    scene_threshold: float = 27.0  # PySceneDetect ContentDetector's default
    min_shot: float = 0.5  # seconds: a shorter shot is not cut off (flashes)

    def __post_init__(self):
        if self.every is None and not self.scenes:
            raise ReidError("sample frames --every SECONDS, at --scenes, or both")
        if self.every is not None and self.every <= 0:
            raise ReidError("--every must be more than 0 seconds")


@dataclass(frozen=True)
class FrameInfo:
    video: str
    time: float  # seconds from the start of the video
    shot: int  # shots are numbered from 0 in each video, at the scene detector's cuts


@dataclass
class Frames:
    """Frame files written for some videos, and what each one is."""

    folder: Path
    info: dict[Path, FrameInfo] = field(default_factory=dict)
    shots: dict[str, int] = field(default_factory=dict)  # per video, the shots up to its last sampled frame
    durations: dict[str, float] = field(default_factory=dict)  # per video, the last time read
    failures: list = field(default_factory=list)  # ImageLoadError for videos that cannot be decoded

    def of(self, path: Path) -> FrameInfo | None:
        return self.info.get(Path(path))

    def save(self) -> None:
        from reid.io.files import write_json_atomic

        write_json_atomic(self.folder / FRAMES_JSON, {
            "frames": {p.relative_to(self.folder).as_posix(): asdict(i) for p, i in self.info.items()},
            "shots": self.shots, "durations": self.durations})


def timestamp(seconds: float) -> str:
    """00-01-23.500: sortable, and valid in a file name on every system."""
    millis = int(round(seconds * 1000))
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    return f"{h:02d}-{m:02d}-{rest // 1000:02d}.{rest % 1000:03d}"


def clock(seconds: float) -> str:
    """0:01:23.5 for people."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h)}:{int(m):02d}:{s:04.1f}"


def sample_video(path: Path, sampling: Sampling) -> Iterator[tuple[float, int, Image.Image]]:
    """(time, shot, frame) for each sampled frame; raises ImageLoadError when the file cannot be decoded.
    Shot cuts come from PySceneDetect's ContentDetector on every decoded frame (at SCENE_WIDTH)."""
    import av
    import numpy as np
    from scenedetect.detectors import ContentDetector

    from reid.errors import ImageLoadError

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImageLoadError(path, f"not a video PyAV can read ({exc}); re-encode it or remove it") from None
    with container:
        if not container.streams.video:
            raise ImageLoadError(path, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or 25)
        detector = ContentDetector(threshold=sampling.scene_threshold, min_scene_len=max(1, round(sampling.min_shot * fps)))
        if sampling.skip > 0 and stream.time_base:
            container.seek(int(sampling.skip / stream.time_base), stream=stream, backward=True)
        shot, shot_start, next_time, shot_sampled, index = 0, None, sampling.skip, False, 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else index / fps
                index += 1
                if t < sampling.skip - 1e-6:
                    continue
                if sampling.stop is not None and t >= sampling.stop:
                    break
                height = max(1, round(frame.height * SCENE_WIDTH / frame.width))
                small = frame.reformat(width=SCENE_WIDTH, height=height, format="bgr24").to_ndarray()
                if detector.process_frame(index, np.ascontiguousarray(small)) and shot_start is not None:
                    shot, shot_sampled = shot + 1, False
                    shot_start = t
                if shot_start is None:
                    shot_start = t
                take = False
                if sampling.every is not None and t >= next_time - 1e-6:
                    take = True
                    next_time += sampling.every * max(1, math.floor((t - next_time) / sampling.every) + 1)
                if sampling.scenes and not shot_sampled and t >= shot_start + SHOT_SAMPLE_DELAY - 1e-6:
                    take = True
                if take:
                    shot_sampled = True
                    width = min(frame.width, sampling.max_width)
                    height = max(1, round(frame.height * width / frame.width))
                    yield t, shot, frame.to_image(width=width, height=height)
        except av.error.FFmpegError as exc:
            raise ImageLoadError(path, f"decoding stopped ({exc}); the file is damaged after that point") from None


def extract_frames(videos: Sequence[Path], sampling: Sampling, folder: Path, *, root: Path | None = None,
                   progress=None) -> Frames:
    """Sample each video into ``folder/<its path under root, without suffix>/<stem>_<time stamp>.jpg``."""
    from reid.progress import NoProgress
    from reid.errors import ImageLoadError

    progress = progress or NoProgress()
    frames = Frames(Path(folder))
    progress.start(len(videos), "reading videos")
    for video in videos:
        relative = video.relative_to(root).with_suffix("") if root is not None and video.is_relative_to(root) else Path(video.stem)
        out = frames.folder / relative
        out.mkdir(parents=True, exist_ok=True)
        shots, last = 0, 0.0
        try:
            for t, shot, image in sample_video(video, sampling):
                path = out / f"{video.stem}_{timestamp(t)}.jpg"
                image.save(path, format="JPEG", quality=92)
                frames.info[path] = FrameInfo(str(Path(video).absolute()), round(t, 3), shot)
                shots, last = shot + 1, t
        except ImageLoadError as exc:
            frames.failures.append(exc)
        frames.shots[str(Path(video).absolute())] = shots
        frames.durations[str(Path(video).absolute())] = round(last, 3)
        progress.advance(1)
    return frames
