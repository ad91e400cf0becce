"""``reid enroll --adapt``: an enrollment whose encoder was fine-tuned on its own references.

The adapted weights (the network's tail only, ``reid.models.networks.split``) live beside the index as
``ENROLL.<encoder>.adapted.pt``, with the index ``ENROLL.<encoder>.adapted.faiss`` and its head; the base
plugin directory is never written. They are keyed by the base encoder's identity, every reference file
(path, size, mtime), the outlier rule and the adaptation settings: a re-run with the same ones reuses them,
any change adapts again.

``unknown`` is calibrated as for any enrollment (``reid.search.open_set``), except that each fold's
encoder is adapted without that fold's strangers: an encoder adapted to every enrolled character would
pull the strangers of the folds towards them and make the threshold lie.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from reid.errors import ImageLoadError, ReidError
from reid.io.files import write_atomic
from reid.io.images import readable_images
from reid.models.contract import embed_checked
from reid.models.encoders.adaptable import network_part, network_scale, other_parts, with_network
from reid.models.encoders.base import Encoder
from reid.models.encoders.trained import read_tensors
from reid.models.networks.split import Tail, split_network, tail_state
from reid.progress import NoProgress, Progress
from reid.search.embedding_cache import signature
from reid.search.enrollment import (OUTLIER_KEPT, OUTLIER_RULE, Enrolled, Fitted, _reuse, check_every_character_kept,
                                    files_digest, find_outliers, fit_references, read_enrollment, reference_files,
                                    small_references)
from reid.search.enrollment_files import default_index_path, head_path_for
from reid.search.head import view_names
from reid.search.open_set import Calibration, calibration_folds
from reid.search.index import check_index_output
from reid.search.ranking import Mode
from reid.training.adapt import AdaptSettings, CachedViews, cache_views, embed_fixed, fine_tune, fixed_views

ADAPTED = "adapted"
FORMAT = 2  # of the weights file
DEFAULT_SETTINGS = AdaptSettings()
TOLERANCE = 0.02  # of fold_score: the folds are small, so only a clear loss sets the adaptation aside (docs/classify.md)


def adapted_index_path(enroll_path: Path, encoder_name: str) -> Path:
    """``ENROLL.json`` -> ``ENROLL.<encoder>.adapted.faiss``."""
    return default_index_path(enroll_path, f"{encoder_name}.{ADAPTED}")


def adapted_weights_path(index_path: Path) -> Path:
    """``ENROLL.<encoder>.adapted.faiss`` -> ``ENROLL.<encoder>.adapted.pt``."""
    return Path(index_path).with_suffix(".pt")


def was_adapted(enroll_path: Path, encoder_name: str, index_path: Path | None = None) -> bool:
    """Whether this enrollment was made with ``--adapt`` for this encoder (its adapted weights are there)."""
    index_path = Path(index_path) if index_path else adapted_index_path(Path(enroll_path), encoder_name)
    return adapted_weights_path(index_path).is_file()


def adaptation_key(encoder: Encoder, files: str, outliers: str, settings: dict) -> str:
    blob = json.dumps([encoder.identity(), files, outliers, settings, FORMAT], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Outcome:
    """What an adaptation left: the fine-tuned weights (empty when not kept), whether they are used, and each
    encoder's score on the enrollment's calibration folds (``fold_score``)."""

    state: dict[str, torch.Tensor]
    kept: bool
    folds: dict[str, float | None]

    def report(self, weights_path: Path) -> dict:
        why = ("it did as well as the base encoder or better on the enrollment's own folds" if self.kept else
               "it did worse than the base encoder on the enrollment's own folds, so the base encoder is used")
        return {"kept": self.kept, "weights": str(weights_path) if self.kept else None, "folds": self.folds,
                "why": why}


def _load_weights(path: Path, key: str) -> Outcome | None:
    """The saved outcome if it was adapted under ``key``; None when missing, damaged or stale."""
    if not path.is_file():
        return None
    try:
        saved = read_tensors(path, what="adapted weights", advice="it is rebuilt")
    except ReidError:
        return None
    if not isinstance(saved, dict) or saved.get("key") != key or not isinstance(saved.get("state"), dict):
        return None
    kept, folds = saved.get("kept"), saved.get("folds")
    if not isinstance(kept, bool) or not isinstance(folds, dict) or (kept and not saved["state"]):
        return None
    return Outcome(saved["state"], kept, folds)


def _save_weights(path: Path, outcome: Outcome, key: str, meta: dict) -> Path:
    def write(tmp: Path) -> None:
        torch.save({"key": key, "format": FORMAT, "meta": meta, "state": outcome.state, "kept": outcome.kept,
                    "folds": outcome.folds}, tmp)

    return write_atomic(path, write)


def _fuse(network: np.ndarray, scale: float, others: list[np.ndarray]) -> np.ndarray:
    """References x views x dim: the network's unit vectors and the other parts' concatenated as the fusion does."""
    return np.ascontiguousarray(np.concatenate([network * scale] + others, axis=2), dtype=np.float32)


@dataclass
class Prepared:
    """Images run once through the frozen layers (and the fused descriptors), ready for any number of adaptations."""

    encoder: Encoder
    network: torch.nn.Module
    base_tail: Tail
    cached: CachedViews
    others: list[np.ndarray]  # per other fused part: images x fixed views x dim, already scaled
    labels: list[str]
    _base: np.ndarray | None = field(default=None, repr=False)

    def views(self, tail: Tail | None = None) -> np.ndarray:
        """Images x fixed views x dim, as the encoder with ``tail`` (the base one by default, computed once and
        read-only) embeds them."""
        if tail is not None:
            return _fuse(embed_fixed(tail, self.cached), network_scale(self.encoder), self.others)
        if self._base is None:
            self._base = _fuse(embed_fixed(self.base_tail, self.cached), network_scale(self.encoder), self.others)
            self._base.setflags(write=False)
        return self._base

    def adapt(self, settings: AdaptSettings, rows: np.ndarray | None = None, progress: Progress | None = None) -> Tail:
        return fine_tune(self.base_tail, self.cached, self.labels, settings, rows=rows, progress=progress)

    def encoder_with(self, tail: Tail, key: str, depth: str) -> tuple[Encoder, dict[str, torch.Tensor]]:
        """The adapted encoder, and the weights it stores (those that ``depth`` fine-tuned)."""
        state = tail_state(self.network, self.base_tail, tail, self.base_tail.first_learning(depth))
        return with_network(self.encoder, network_part(self.encoder).adapted_copy(state, key)), state


def prepare(encoder: Encoder, images: Sequence[Image.Image], labels: list[str], *, augmented: int, seed: int = 0,
            names: Sequence[str] | None = None, progress: Progress | None = None) -> Prepared:
    """``names``: the fixed views (enrollment's, by default); ``augmented``: random training views per image."""
    progress = progress or NoProgress()
    part = network_part(encoder)
    names = list(names or view_names(mirror=not encoder.flip))
    network = part.network()
    prefix, base_tail = split_network(network)
    cached = cache_views(prefix, images, preprocess=part.preprocess, input_size=part.input_size, mean=part.mean,
                         std=part.std, view_names=names, mirror=part.flip, augmented=augmented, seed=seed,
                         progress=progress)
    others = []
    for other, scale in other_parts(encoder):
        flat = embed_checked(other, (view for image in images for view in fixed_views(image, names)))
        others.append(flat.reshape(len(images), len(names), -1) * scale)
    return Prepared(encoder, network, base_tail, cached, others, list(labels))


def fold_score(calibration: dict[Mode, Calibration | None]) -> float | None:
    """How well an enrollment did on its own calibration folds: the mean of held-back references named right
    and strangers called unknown, in Head mode (Any where there is no head); None where it was not calibrated."""
    for mode in (Mode.head, Mode.any):
        c = calibration.get(mode)
        if c is not None and c.threshold is not None:
            return (c.known_named + c.strangers_rejected) / 2
    return None


def adaptation_holds_up(frozen: dict[Mode, Calibration | None], adapted: dict[Mode, Calibration | None],
                        tolerance: float = TOLERANCE) -> bool:
    """Whether the adapted encoder did no worse than the base one on the enrollment's folds, give or take
    ``tolerance``; an enrollment too small to calibrate has nothing to judge by, and keeps it."""
    before, after = fold_score(frozen), fold_score(adapted)
    return before is None or after is None or after >= before - tolerance


def fit_adapted(prepared: Prepared, paths: list, settings: AdaptSettings, *, keep_outliers: bool = False,
                meta: dict | None = None, progress: Progress | None = None) -> tuple[Fitted, Tail]:
    """Outliers found with the base encoder and left out, the tail adapted to the rest, the index and head fitted
    on the adapted embeddings, and unknown calibrated with one adaptation per fold."""
    progress = progress or NoProgress()
    base = prepared.views()
    labels = prepared.labels
    keep = np.ones(len(labels), dtype=bool) if keep_outliers else ~find_outliers(base[:, 0], labels)[2]
    tail = prepared.adapt(settings, rows=np.flatnonzero(keep), progress=progress)
    folds = calibration_folds(len(set(np.array(labels)[keep])))
    progress.start(folds, "adapting: calibrating unknown, one adaptation per fold")

    def refit(rows: np.ndarray) -> np.ndarray:
        try:
            return prepared.views(prepared.adapt(settings, rows=rows))
        finally:
            progress.advance(1)

    fitted = fit_references(prepared.views(tail), labels, paths, head=True, keep_outliers=keep_outliers, outliers_in=base,
                            refit=refit, meta=meta)
    return fitted, tail


def enroll_adapted(enroll_path: str | Path, encoder: Encoder, *, settings: AdaptSettings | None = None,
                   index_path: Path | None = None, keep_outliers: bool = False, rebuild: bool = False,
                   force: bool = False, always: bool = False, progress: Progress | None = None) -> tuple[Enrolled, Encoder]:
    """The enrollment with an encoder adapted to its references, and that encoder (targets must be embedded
    with it). The adaptation is set aside where it did clearly worse than the base encoder on the enrollment's
    own calibration folds (``always``: kept anyway); the enrollment is then the base encoder's, and says why. Reused when
    nothing changed; the head is always fitted (it is cheap next to the adaptation)."""
    progress = progress or NoProgress()
    settings = settings or DEFAULT_SETTINGS
    enroll_path = Path(enroll_path)
    part = network_part(encoder)
    pairs = reference_files(read_enrollment(enroll_path))
    index_path = Path(index_path) if index_path else adapted_index_path(enroll_path, encoder.name)
    weights_path = adapted_weights_path(index_path)
    check_index_output(index_path, head_path_for(index_path), weights_path, force=force)
    signatures = {p: signature(p) for _, p in pairs}
    files = files_digest(signatures)
    outliers = OUTLIER_KEPT if keep_outliers else OUTLIER_RULE
    key = adaptation_key(encoder, files, outliers, {**settings.to_json(), "always": always})

    def sources(used: Encoder) -> dict:
        return {"encoder_identity": used.identity(), "files": files, "outliers": outliers,
                "index": ["exact", 0], ADAPTED: settings.to_json()}

    saved = None if rebuild else _load_weights(weights_path, key)
    if saved is not None:
        used = with_network(encoder, part.adapted_copy(saved.state, key)) if saved.kept else encoder
        reused = _reuse(index_path, sources(used), head=True)
        if reused is not None:
            reused.adaptation = saved.report(weights_path)
            return reused, used

    label_of = {path: name for name, path in pairs}
    failures: list[ImageLoadError] = []
    progress.start(len(signatures), "adapting: reading references")
    loaded = list(readable_images(list(signatures), failures, progress))
    paths = [p for p, _ in loaded]
    check_every_character_kept(label_of, paths, failures)
    prepared = prepare(encoder, [image for _, image in loaded], [label_of[p] for p in paths],
                       augmented=settings.views, seed=settings.seed, progress=progress)
    del loaded
    small = small_references(paths)
    meta = {"encoder": encoder.name, "threshold": encoder.threshold, "adapted_weights": weights_path.name,
            "skipped": [[str(f.path), f.reason] for f in failures], "small": small, "embedded_now": len(paths)}
    fitted, tail = fit_adapted(prepared, paths, settings, keep_outliers=keep_outliers, progress=progress, meta=meta)
    frozen = fit_references(prepared.views(), prepared.labels, paths, head=True, keep_outliers=keep_outliers, meta=meta)
    folds = {"base": fold_score(frozen.calibration), "adapted": fold_score(fitted.calibration)}
    kept = always or adaptation_holds_up(frozen.calibration, fitted.calibration)
    if kept:
        used, state = prepared.encoder_with(tail, key, settings.depth)
    else:  # the base encoder's enrollment, already fitted for the comparison
        used, state, fitted = encoder, {}, frozen
    outcome = Outcome(state, kept, folds)
    fitted.index.meta.update(sources(used))
    _save_weights(weights_path, outcome, key, {"encoder": encoder.name, "settings": settings.to_json(),
                                               "characters": len(fitted.index.counts()), "references": fitted.index.size})
    fitted.index.save(index_path)
    head_path = fitted.head.save(head_path_for(index_path), {
        **sources(used), "views": view_names(mirror=not encoder.flip),
        "open_set": {Mode.head.value: fitted.calibration[Mode.head].to_json()}})
    return Enrolled(fitted.index, index_path, False, failures, fitted.dropped, fitted.calibration, fitted.head,
                    head_path, small, len(paths), outcome.report(weights_path)), used


def check_adaptable(*, ivf_lists: int = 0, compact: bool | None = None, context: object = None) -> None:
    """Before any work: what adaptation cannot do."""
    if ivf_lists or compact:
        raise ReidError("--adapt builds an exact index (an enrollment small enough to adapt on); leave out --ivf and --compact")
    if context is not None:
        raise ReidError("--adapt fine-tunes on face crops; it does not combine with --context")


def enroll_as_asked(enroll_path: Path, encoder: Encoder, *, adapt: bool | None, head: bool = False,
                    progress: Progress | None = None, **options) -> tuple[Enrolled, Encoder]:
    """The enrollment and the encoder that targets must be embedded with: adapted when ``adapt`` says so, or, when
    it is None, when the enrollment was made with ``--adapt``. ``options``: ``reid.search.enrollment.enroll``'s."""
    from reid.search.enrollment import enroll

    if adapt is None:
        adapt = was_adapted(enroll_path, encoder.name, options.get("index_path"))
    if not adapt:
        return enroll(enroll_path, encoder, head=head, progress=progress, **options), encoder
    check_adaptable(ivf_lists=options.get("ivf_lists", 0), compact=options.get("compact"), context=options.get("context"))
    return enroll_adapted(enroll_path, encoder, index_path=options.get("index_path"), keep_outliers=options.get("keep_outliers", False),
                          rebuild=options.get("rebuild", False), force=options.get("force", False), progress=progress)
