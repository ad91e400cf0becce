"""Enrollment: a JSON of ``{"Character": "folder of reference images"}`` turned into a reference index.

Relative folders resolve against the JSON's own folder. The index is cached beside the JSON and
reused while the encoder and every reference file (path, size, mtime) are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reid.context import BodyContext
from reid.detectors.base import Detector
from reid.embedding import Progress, embed_paths
from reid.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.fileio import read_json
from reid.images import require_images
from reid.index import ReferenceIndex

UNKNOWN = "unknown"


def read_enrollment(path: str | Path) -> dict[str, Path]:
    path = Path(path)
    data = read_json(path, what="enrollment file", error=ReidError)
    example = '{"Character name": "path/to/reference/folder"}'
    if not isinstance(data, dict) or not data:
        raise ReidError(f"{path}: expected a non-empty JSON object like {example}")
    enrollment: dict[str, Path] = {}
    for name, folder in data.items():
        if not isinstance(folder, str) or not folder:
            raise ReidError(f"{path}: character {name!r} must map to a folder path string, like {example}")
        if name.strip().lower() == UNKNOWN:
            raise ReidError(f"{path}: {UNKNOWN!r} is reserved for faces that match nobody; rename that character")
        enrollment[name] = (path.parent / folder).resolve()
    return enrollment


def reference_files(enrollment: dict[str, Path]) -> list[tuple[str, Path]]:
    pairs: list[tuple[str, Path]] = []
    for name, folder in enrollment.items():
        try:
            pairs += [(name, p) for p in require_images(folder)]
        except ReidError as exc:
            raise ReidError(f"character {name!r}: {exc}") from None
    return pairs


def _signature(paths: list[Path]) -> list[list]:
    out = []
    for p in paths:
        stat = p.stat()
        out.append([str(p), stat.st_size, stat.st_mtime_ns])
    return out


def default_index_path(enroll_path: Path, encoder: Encoder, context: BodyContext | None = None) -> Path:
    suffix = "" if context is None else ".body"
    return enroll_path.with_name(f"{enroll_path.stem}.{encoder.name}{suffix}.faiss")


@dataclass
class Enrolled:
    index: ReferenceIndex
    index_path: Path
    reused: bool
    failures: list[ImageLoadError] = field(default_factory=list)


def enroll(enroll_path: str | Path, encoder: Encoder, *, index_path: Path | None = None, ivf_lists: int = 0,
           rebuild: bool = False, detector: Detector | None = None, context: BodyContext | None = None,
           progress: Progress | None = None) -> Enrolled:
    """Load the saved index when it still matches, else embed the references and save a new one.

    References are face crops, embedded whole, unless there is a ``context``: a body needs the whole
    illustration, so the references then go through the ``detector`` and the context like the targets."""
    enroll_path = Path(enroll_path)
    pairs = reference_files(read_enrollment(enroll_path))
    index_path = Path(index_path) if index_path else default_index_path(enroll_path, encoder, context)
    sources = {"encoder_identity": encoder.identity(), "files": _signature([p for _, p in pairs])}
    cutter = detector if context is not None else None  # face-crop references are embedded whole
    if cutter is not None:
        sources["faces"] = {**cutter.identity(), **context.identity()}
    if not rebuild and index_path.exists():
        try:
            saved = ReferenceIndex.load(index_path)
        except ReidError:
            saved = None  # a damaged cache is rebuilt, not fatal
        if saved is not None and all(saved.meta.get(k) == v for k, v in sources.items()):
            skipped = [ImageLoadError(path, reason) for path, reason in saved.meta.get("skipped", [])]
            return Enrolled(saved, index_path, reused=True, failures=skipped)
    label_of = {path: name for name, path in pairs}
    embedded = embed_paths(encoder, [p for _, p in pairs], progress=progress, description="enrolling references",
                           detector=cutter, context=context)
    # a reference with no face is as unusable as an unreadable one: both are reported the same way
    failures = embedded.failures + [ImageLoadError(p, f"no face found by {cutter.name}") for p in embedded.no_face]
    missing = set(label_of.values()) - {label_of[p] for p in embedded.paths}
    if missing:
        unusable = "; ".join(str(f) for f in failures if label_of[Path(f.path)] in missing)
        raise ReidError(f"no usable reference image for {', '.join(sorted(missing))} ({unusable})")
    index = ReferenceIndex.build(embedded.vectors, [label_of[p] for p in embedded.paths], embedded.paths,
                                 ivf_lists=ivf_lists, meta={"encoder": encoder.name, "threshold": encoder.threshold, **sources,
                                       "skipped": [[str(f.path), f.reason] for f in failures]})
    index.save(index_path)
    return Enrolled(index, index_path, reused=False, failures=failures)
