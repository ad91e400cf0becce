"""Enrollment: a JSON of ``{"Character": "folder of reference images"}`` turned into a reference index.

Relative folders resolve against the JSON's own folder. The index (and the classifier head, when one
is asked for) is cached beside the JSON and reused while the encoder, every reference file (path,
size, mtime) and the outlier rule are unchanged. When they change, only new or changed files are embedded:
the others come from the embedding cache beside the index (``reid.search.embedding_cache``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from reid.models.context import BodyContext
from reid.models.detectors.base import Detector
from reid.models.embedding import embed_paths
from reid.progress import Progress
from reid.search.embedding_cache import EmbeddingCache, rounded, signature
from reid.search.enrollment_files import cache_path_for, default_index_path, head_path_for
from reid.models.encoders.base import Encoder
from reid.errors import ImageLoadError, ReidError
from reid.io.files import read_json, safe_folder_name
from reid.search.head import CharacterHead, reference_views, view_names
from reid.io.images import require_images
from reid.search.index import IndexKind, ReferenceIndex, check_index_output, choose_kind
from reid.search.metrics import rows_per_label
from reid.search.open_set import Calibration, calibrate
from reid.search.ranking import Mode

UNKNOWN = "unknown"
MIN_REFERENCE_SIDE = 32  # pixels; the encoders look at 160 px, so a smaller face is mostly upscaling blur
OUTLIER_MIN_REFERENCES = 4  # fewer references say too little about what is typical of the character
OUTLIER_SPREAD = 4.0
OUTLIER_MIN_GAP = 0.15  # measured: false faces cut by animeface sat 0.19-0.24 under their character, real faces rarely 0.15
OUTLIER_RULE = f"median-{OUTLIER_SPREAD}mad-min{OUTLIER_MIN_GAP}-n{OUTLIER_MIN_REFERENCES}"  # part of the cache key
OUTLIER_KEPT = "kept"


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
        if is_reserved(name):
            raise ReidError(f"{path}: {name!r} would be the folder {UNKNOWN!r}, which is reserved for faces that "
                            "match nobody; rename that character")
        enrollment[name] = (path.parent / folder).resolve()
    _refuse_shared(path, enrollment)
    return enrollment


def is_reserved(name: str) -> bool:
    """True for a character name whose folder would be classify's folder of faces that match nobody."""
    return safe_folder_name(name).casefold() == UNKNOWN


def folder_clash(names: Iterable[str]) -> tuple[str, str] | None:
    """The first two names that would make one character folder (case-insensitive file systems merge case too)."""
    seen: dict[str, str] = {}
    for name in names:
        cleaned = safe_folder_name(name).casefold()
        if cleaned in seen:
            return seen[cleaned], name
        seen[cleaned] = name
    return None


def _refuse_shared(path: Path, enrollment: dict[str, Path]) -> None:
    """Two characters with one folder of references, or with names that make one result folder, would be
    one character in all but name."""
    seen_folder: dict[Path, str] = {}
    for name, folder in enrollment.items():
        if folder in seen_folder:
            raise ReidError(f"{path}: {seen_folder[folder]!r} and {name!r} both point at {folder}; give each "
                            "character its own folder of references")
        seen_folder[folder] = name
    clash = folder_clash(enrollment)
    if clash:
        raise ReidError(f"{path}: {clash[0]!r} and {clash[1]!r} would share the result folder "
                        f"{safe_folder_name(clash[1])!r}; rename one of them")


def reference_files(enrollment: dict[str, Path]) -> list[tuple[str, Path]]:
    pairs: list[tuple[str, Path]] = []
    for name, folder in enrollment.items():
        try:
            pairs += [(name, p) for p in require_images(folder)]
        except ReidError as exc:
            raise ReidError(f"character {name!r}: {exc}") from None
    return pairs


def files_digest(signatures: dict[Path, tuple[int, int]]) -> str:
    """One checksum over every reference's path, size and mtime: the label map holds this, not a row per file."""
    digest = hashlib.sha256()
    for p, (size, mtime_ns) in signatures.items():
        digest.update(json.dumps([str(p), size, mtime_ns]).encode())
    return digest.hexdigest()


@dataclass
class Dropped:
    """A reference left out of the index: far from the other references of its own character."""

    path: str
    character: str
    score: float  # cosine to the mean of the character's other references
    typical: float  # the median of that score over the character's references

    def __str__(self) -> str:
        return (f"{self.path}: reference of {self.character!r} left out, cosine {self.score:.3f} to its other references "
                f"(typical {self.typical:.3f}); a false face or another character? pass --keep-outliers to keep it")


def find_outliers(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per reference: its cosine to the mean of its character's other references, that cosine's median over
    the character, and whether it is an outlier (under the median by more than ``OUTLIER_SPREAD`` robust
    deviations and at least ``OUTLIER_MIN_GAP``). Characters with fewer than ``OUTLIER_MIN_REFERENCES``
    references keep them all."""
    scores = np.ones(len(labels))
    outlier = np.zeros(len(labels), dtype=bool)
    typical = np.ones(len(labels))
    for rows in rows_per_label(labels)[1]:
        if len(rows) < OUTLIER_MIN_REFERENCES:
            continue
        own = vectors[rows].astype(np.float64)
        others = own.sum(axis=0) - own
        score = np.einsum("ij,ij->i", own, others) / np.maximum(np.linalg.norm(others, axis=1), 1e-12)
        median = np.median(score)
        spread = 1.4826 * np.median(np.abs(score - median))  # the MAD, scaled to a normal's deviation
        scores[rows], typical[rows] = score, median
        outlier[rows] = score < median - max(OUTLIER_SPREAD * spread, OUTLIER_MIN_GAP)
    return scores, typical, outlier


@dataclass
class Enrolled:
    index: ReferenceIndex
    index_path: Path
    reused: bool
    failures: list[ImageLoadError] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    calibration: dict[Mode, Calibration | None] = field(default_factory=dict)
    head: CharacterHead | None = None
    head_path: Path | None = None
    small: list[list] = field(default_factory=list)  # [path, width, height] of references under MIN_REFERENCE_SIDE
    embedded: int = 0  # reference files embedded by this call; the rest came from the embedding cache
    adaptation: dict | None = None  # where adapting was asked for: whether it was kept, its weights, and why

    @property
    def adapted_weights(self) -> Path | None:
        """The encoder's adapted weights (``reid.search.adapted_enrollment``), where they are used."""
        return Path(self.adaptation["weights"]) if self.adaptation and self.adaptation["kept"] else None

    def to_json(self) -> dict:
        """What both enroll and classify report about the references: the head file, the left-out and tiny ones."""
        return {"head": str(self.head_path) if self.head_path else None, "embedded": self.embedded,
                "adapted": self.adapted_weights is not None,
                "adapted_weights": str(self.adapted_weights) if self.adapted_weights else None,
                "adaptation": self.adaptation,
                "dropped": [asdict(d) for d in self.dropped], "small": self.small}

    def warnings(self) -> list[str]:
        """One line per reference worth a look: left out as an outlier, or too small to say much."""
        return [str(d) for d in self.dropped] + [
            f"{path}: reference is only {w}x{h} pixels, too small to say much about its character; "
            f"use face crops of at least {MIN_REFERENCE_SIDE} px" for path, w, h in self.small]


def small_references(paths: list[Path]) -> list[list]:
    out = []
    for path in dict.fromkeys(paths):  # an image with several faces is one file
        with Image.open(path) as image:  # the header alone: the pixels were read while embedding
            if min(image.size) < MIN_REFERENCE_SIDE:
                out.append([str(path), *image.size])
    return out


@dataclass
class Fitted:
    index: ReferenceIndex
    dropped: list[Dropped]
    calibration: dict[Mode, Calibration]
    head: CharacterHead | None


def check_every_character_kept(label_of: dict[Path, str], paths: Iterable[Path], failures: list[ImageLoadError]) -> None:
    """A ReidError naming each character none of whose reference images could be read, and why."""
    missing = set(label_of.values()) - {label_of[p] for p in paths}
    if missing:
        unusable = "; ".join(str(f) for f in failures if label_of[Path(f.path)] in missing)
        raise ReidError(f"no usable reference image for {', '.join(sorted(missing))} ({unusable})")


def fit_references(views: np.ndarray, labels: list[str], paths: list, *, head: bool = False,
                   keep_outliers: bool = False, open_set: bool = True, ivf_lists: int = 0,
                   compact: bool | None = None, meta: dict | None = None, outliers_in: np.ndarray | None = None,
                   refit: Callable[[np.ndarray], np.ndarray] | None = None) -> Fitted:
    """From embedded references (references x views x dim; view 0 the image itself) to what classify
    needs: outliers left out, the index of view 0, each mode's unknown threshold (unless not ``open_set``),
    and the head on all views. The thresholds and the head see the vectors as the index stores them
    (projected, for a compact index). ``outliers_in``: the views in which outliers are looked for (``views``
    by default; an adapted encoder looks for them with the embeddings it was adapted from). ``refit``: as for
    ``reid.search.open_set.calibrate``, over these references' rows."""
    scores, typical, outlier = find_outliers((views if outliers_in is None else outliers_in)[:, 0], labels)
    keep = np.ones(len(labels), dtype=bool) if keep_outliers else ~outlier
    dropped = [Dropped(str(paths[i]), labels[i], round(float(scores[i]), 4), round(float(typical[i]), 4))
               for i in np.flatnonzero(~keep)]
    views, labels = views[keep], [x for x, k in zip(labels, keep) if k]
    index = ReferenceIndex.build(views[:, 0], labels, ivf_lists=ivf_lists, compact=compact,
                                 meta={**(meta or {}), "dropped": [asdict(d) for d in dropped]})
    def stored(v: np.ndarray) -> np.ndarray:
        if index.projection is None:
            return v
        return index.project(v.reshape(-1, v.shape[2])).reshape(len(v), v.shape[1], -1)

    views = stored(views)
    kept = np.flatnonzero(keep)
    refit_kept = None if refit is None else (lambda rows: stored(refit(kept[rows])[keep]))
    modes = [Mode.any, Mode.avg] + ([Mode.head] if head else [])
    calibration = calibrate(views, labels, modes, refit=refit_kept) if open_set else {}
    index.meta["open_set"] = {m.value: c.to_json() for m, c in calibration.items() if m != Mode.head}
    fitted = None
    if head:
        fitted = CharacterHead().fit(views.reshape(-1, views.shape[2]), np.repeat(labels, views.shape[1]).tolist())
    return Fitted(index, dropped, calibration, fitted)


def _matching(meta: dict, sources: dict) -> bool:
    return all(meta.get(k) == v for k, v in sources.items())


def _calibrations(meta: dict) -> dict[Mode, Calibration | None]:
    return {Mode(m): Calibration.from_json(c) for m, c in meta.get("open_set", {}).items()}


def _reuse(index_path: Path, sources: dict, head: bool) -> Enrolled | None:
    """The saved index (and head, when asked for) if they were built from these very sources."""
    try:
        saved = ReferenceIndex.load(index_path)
        fitted, head_meta = CharacterHead.load(head_path_for(index_path)) if head else (None, {})
    except ReidError:
        return None  # a missing or damaged cache is rebuilt, not fatal
    if not _matching(saved.meta, sources) or (head and not _matching(head_meta, sources)):
        return None
    try:
        skipped = [ImageLoadError(path, str(reason)) for path, reason in saved.meta.get("skipped", [])]
        dropped = [Dropped(**d) for d in saved.meta.get("dropped", [])]
        calibration = {**_calibrations(saved.meta), **_calibrations(head_meta)}
    except (TypeError, ValueError, KeyError, AttributeError):  # a label map edited by hand: rebuilt like a damaged one
        return None
    return Enrolled(saved, index_path, True, skipped, dropped, calibration, fitted,
                    head_path_for(index_path) if head else None, saved.meta.get("small", []))


@dataclass
class References:
    """Embedded references, one row per face: ``views`` faces x views x dim, ``paths`` the file of each row."""

    paths: list[Path]
    views: np.ndarray
    failures: list[ImageLoadError]
    embedded: int  # files embedded now; the others came from the cache


def embed_references(encoder: Encoder, signatures: dict[Path, tuple[int, int]], cache: EmbeddingCache, *,
                     detector: Detector | None, context: BodyContext | None, views: int,
                     progress: Progress | None = None) -> References:
    """Each file's faces from the cache while its size and mtime are unchanged, the others embedded now and
    cached. ``views``: how many views of each face (1: the face alone); a file cached with fewer is embedded
    again. Files are read in ``paths`` order either way, and fresh vectors take the cache's rounding, so a
    later enrollment of the same files builds the same index. ``signatures``: each file's size and mtime, in
    enrollment order."""
    paths = list(signatures)
    cached = {p: faces[:, :views] for p, faces in cache.lookup(signatures).items() if faces.shape[1] >= views}
    todo = [p for p in paths if p not in cached]
    new: dict[Path, np.ndarray] = {}
    failures: list[ImageLoadError] = []
    if todo:
        make_views = partial(reference_views, mirror=not encoder.flip) if views > 1 else None
        embedded = embed_paths(encoder, todo, progress=progress, description="enrolling references",
                               detector=detector, context=context, views=make_views)
        fresh = rounded(embedded.views if embedded.views is not None else embedded.vectors[:, None])
        rows_of: dict[Path, list[int]] = {p: [] for p in embedded.no_face}
        for row, path in enumerate(embedded.paths):
            rows_of.setdefault(path, []).append(row)
        new = {p: fresh[rows] for p, rows in rows_of.items()}
        failures = embedded.failures
    cache.store(((p, signatures[p], faces) for p, faces in new.items()), keep=paths)
    found = {**cached, **new}
    usable = [p for p in paths if p in found and len(found[p])]
    # a reference with no face is as unusable as an unreadable one: both are reported the same way
    failures += [ImageLoadError(p, f"no face found by {detector.name}") for p in paths if p in found and not len(found[p])]
    return References([p for p in usable for _ in range(len(found[p]))],
                      np.concatenate([found[p] for p in usable]) if usable else np.zeros((0, views, 0), np.float32),
                      failures, len(todo))


def enroll(enroll_path: str | Path, encoder: Encoder, *, index_path: Path | None = None, ivf_lists: int = 0,
           compact: bool | None = None, rebuild: bool = False, detector: Detector | None = None,
           context: BodyContext | None = None, head: bool = False, keep_outliers: bool = False,
           force: bool = False, progress: Progress | None = None) -> Enrolled:
    """Load the saved index (and ``head``) when they still match, else build new ones, embedding only the
    references that are not in the embedding cache (``rebuild``: all of them).

    References are face crops, embedded whole, unless there is a ``context``: a body needs the whole
    illustration, so the references then go through the ``detector`` and the context like the targets.
    References far from the rest of their character are left out unless ``keep_outliers``. Each mode's
    unknown threshold is calibrated on the references (``reid.search.open_set``) and saved with them. ``compact``
    (None: from ``COMPACT_FROM`` references) builds a compact index. A file at the index's paths that reid
    did not write is replaced only with ``force``."""
    enroll_path = Path(enroll_path)
    pairs = reference_files(read_enrollment(enroll_path))
    index_path = Path(index_path) if index_path else default_index_path(enroll_path, encoder.name, body=context is not None)
    check_index_output(index_path, head_path_for(index_path), force=force)
    kind = choose_kind(len(pairs), compact=compact, ivf_lists=ivf_lists)
    signatures = {p: signature(p) for _, p in pairs}  # one stat per file, for the label map's digest and the embedding cache
    sources = {"encoder_identity": encoder.identity(), "files": files_digest(signatures),
               "outliers": OUTLIER_KEPT if keep_outliers else OUTLIER_RULE, "index": [kind.value, ivf_lists]}
    cutter = detector if context is not None else None  # face-crop references are embedded whole
    if cutter is not None:
        sources["faces"] = {**cutter.identity(), **context.identity()}
    if not rebuild and index_path.exists():
        reused = _reuse(index_path, sources, head)
        if reused is not None:
            return reused
    label_of = {path: name for name, path in pairs}
    with_views = head and context is None  # a body is not cropped into views: its head learns from the face itself
    made_by = {key: sources[key] for key in ("encoder_identity", "faces") if key in sources}
    with EmbeddingCache(cache_path_for(index_path), made_by, force=force) as cache:
        if rebuild:
            cache.clear()
        references = embed_references(encoder, signatures, cache, detector=cutter, context=context,
                                      views=len(view_names(mirror=not encoder.flip)) if with_views else 1,
                                      progress=progress)
    failures = references.failures
    check_every_character_kept(label_of, references.paths, failures)
    small = small_references(references.paths) if cutter is None else []  # a detector's faces are cut, not given
    fitted = fit_references(references.views, [label_of[p] for p in references.paths], references.paths, head=head,
                            keep_outliers=keep_outliers, ivf_lists=ivf_lists, compact=kind == IndexKind.compact,
                            meta={"encoder": encoder.name, "threshold": encoder.threshold, **sources,
                                  "skipped": [[str(f.path), f.reason] for f in failures], "small": small,
                                  "embedded_now": references.embedded})
    fitted.index.save(index_path)
    head_path = None
    if head:
        head_path = fitted.head.save(head_path_for(index_path), {
            **sources, "views": view_names(mirror=not encoder.flip) if with_views else ["image"],
            "open_set": {Mode.head.value: fitted.calibration[Mode.head].to_json()}})
    return Enrolled(fitted.index, index_path, False, failures, fitted.dropped, fitted.calibration, fitted.head, head_path,
                    small, references.embedded)
