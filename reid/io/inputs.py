"""What a command reads: a folder of images and videos (sub-folders included), or one video; videos become their
sampled frames (``reid.io.video``)."""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from reid.errors import ReidError
from reid.io.images import IMAGE_SUFFIXES, list_images
from reid.io.video import VIDEO_SUFFIXES, Frames, Sampling, extract_frames, is_video


def gather(target: str | Path, sampling: Sampling | None, frames_dir: Path | None, *,
           progress=None) -> tuple[list[Path], Frames | None]:
    """The images to embed: those in ``target`` and, with ``sampling``, the frames of its videos written under
    ``frames_dir``; ``Frames`` says which video and time each frame is (None when there was no video)."""
    target = Path(target)
    if target.is_file() and is_video(target):
        images, videos = [], [target]
        root = target.parent
    else:
        images = list_images(target, recursive=True)
        videos = sorted(p for p in target.rglob("*") if is_video(p) and p.is_file()) if sampling is not None else []
        root = target
    if sampling is None:
        videos = []
    if not images and not videos:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES | (VIDEO_SUFFIXES if sampling is not None else set())))
        raise ReidError(f"{target}: no images found (looked for {suffixes}); point to a folder that holds images")
    if not videos:
        return images, None
    if frames_dir is None:
        raise ValueError("videos need a folder to write their frames to")
    frames = extract_frames(videos, sampling, frames_dir, root=root, progress=progress)
    frames.save()
    if not frames.info and not images:
        reasons = "; ".join(str(f) for f in frames.failures[:3])
        raise ReidError(f"{target}: no frame could be read from its videos ({reasons or 'they are empty'})")
    return images + sorted(frames.info), frames


def sampling_from_options(every: float | None, scenes: bool, skip: float, stop: float | None,
                          max_width: int) -> Sampling:
    """The command line's frame options: every second unless --scenes alone asks for one frame per shot."""
    return Sampling(every=every if every is not None else (None if scenes else 1.0), scenes=scenes, skip=skip,
                    stop=stop, max_width=max_width)


@contextmanager
def frames_folder(result_dir: Path | None) -> Iterator[tuple[Path, Path | None]]:
    """(where to write video frames, where they end up): a hidden sibling of ``result_dir`` that the result takes
    in as ``frames/`` when it is written, or a temporary folder; whatever is left is removed at the end."""
    if result_dir is None:
        with tempfile.TemporaryDirectory(prefix="reid-frames-") as tmp:
            yield Path(tmp), None
        return
    Path(result_dir).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=Path(result_dir).parent, prefix=f".{Path(result_dir).name}.frames."))
    try:
        yield tmp, Path(result_dir) / "frames"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def labelled_images(dataset_dir: str | Path, exclude: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """(character, image) for each sub-folder of ``dataset_dir``. A last path component with glob characters
    (``charfaces/touhou__*``) keeps the matching character folders only; ``exclude`` patterns drop folders."""
    dataset_dir = Path(dataset_dir)
    pattern = "*"
    if any(c in dataset_dir.name for c in "*?["):
        dataset_dir, pattern = dataset_dir.parent, dataset_dir.name
    list_images(dataset_dir)  # the folder's own errors first (missing, not a folder)
    folders = [d for d in sorted(dataset_dir.iterdir()) if d.is_dir() and fnmatch.fnmatchcase(d.name, pattern)
               and not any(fnmatch.fnmatchcase(d.name, x) for x in exclude)]
    pairs = [(d.name, p) for d in folders for p in list_images(d)]
    characters = {label for label, _ in pairs}
    if len(characters) < 2:
        selection = f" matching {pattern!r}" if pattern != "*" else ""
        selection += f" (excluding {', '.join(exclude)})" if exclude else ""
        raise ReidError(f"{dataset_dir}: needs at least two sub-folders of images{selection}, one per character "
                        f"(found {len(characters)})")
    return pairs


def identical_files(paths: Sequence[Path]) -> list[list[Path]]:
    """Groups of byte-identical files among ``paths`` (each path once, first-seen order), two or more to a group.
    Only files that share a size are read, so a folder without copies costs one ``stat`` a file."""
    by_size: dict[int, list[Path]] = {}
    for path in dict.fromkeys(paths):
        try:
            by_size.setdefault(path.stat().st_size, []).append(path)
        except OSError:  # gone, or a video frame already removed: nothing to compare
            continue
    groups: dict[tuple[int, str], list[Path]] = {}
    for size, same_size in by_size.items():
        if len(same_size) < 2:
            continue
        for path in same_size:
            try:
                digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
            except OSError:
                continue
            groups.setdefault((size, digest), []).append(path)
    return [group for group in groups.values() if len(group) > 1]
