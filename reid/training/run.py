"""What every training command shares: the output folder, seeding, resumable checkpoints, the JSON-lines
log, the loss curve and the finished plugin directory."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from reid.models.encoders.trained import read_tensors
from reid.errors import ImageLoadError, ReidError, cause
from reid.io.files import write_atomic, write_json_atomic, write_text_atomic
from reid.training.curve import draw_loss_curve

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_KEYS = frozenset({"epoch", "settings", "model", "optimizer", "scheduler", "rng"})
LOG = "train_log.jsonl"
CURVE = "loss.png"
PLUGIN_CODE = '''"""Encoder plugin written by `reid train`; config.json describes the network, weights.pt holds it."""

from pathlib import Path

import reid


@reid.hookimpl
def register_encoders(register):
    """Register the encoder this directory's config.json describes."""
    reid.register_encoder_config(register, Path(__file__).with_name("config.json"))
'''


def _numpy_state() -> tuple:
    """numpy's generator state with its key array as a tensor, which ``weights_only`` loading accepts."""
    name, keys, *rest = np.random.get_state()
    return (name, torch.from_numpy(keys.astype(np.int64)), *rest)


def _python_state(saved) -> tuple:
    """``random.setstate`` wants tuples; a checkpoint may hand back lists."""
    version, internal, gauss = saved
    return version, tuple(internal), gauss


@dataclass
class TrainingResult:
    out: Path
    config: dict[str, Any]
    history: list[dict[str, Any]]
    failures: list[ImageLoadError] = field(default_factory=list)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class TrainingRun:
    """One ``--out`` folder: refuses to clobber a finished or foreign folder, resumes an interrupted run.

    ``settings`` are the run's options; a resumed run must have the same ones.
    """

    def __init__(self, out: str | Path, settings: dict[str, Any], *, resume: bool = False):
        self.out = Path(out)
        self.settings = settings
        self.checkpoint_path = self.out / CHECKPOINT
        self.log_path = self.out / LOG
        if resume:
            if not self.checkpoint_path.is_file():
                raise ReidError(f"{self.out}: no {CHECKPOINT} to resume from; run without --resume to start a new run")
        elif self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            raise ReidError(f"{self.out}: already exists and is not empty; choose a new --out "
                            "(or pass --resume to continue an interrupted run there)")
        self.out.mkdir(parents=True, exist_ok=True)

    def restore(self, model: torch.nn.Module, optimizer, scheduler) -> tuple[int, dict]:
        """Load the checkpoint if resuming; returns (epochs already done, the trainer's extra state)."""
        if not self.checkpoint_path.is_file():
            return 0, {}
        state = read_tensors(self.checkpoint_path, what="reid checkpoint", advice="start a new run in a new --out")
        missing = CHECKPOINT_KEYS - set(state) if isinstance(state, dict) else CHECKPOINT_KEYS
        if missing:
            raise ReidError(f"{self.checkpoint_path}: not a reid checkpoint (no {', '.join(sorted(missing))}); "
                            "start a new run in a new --out")
        for key, kind in (("settings", dict), ("model", dict), ("optimizer", dict), ("scheduler", dict), ("rng", dict),
                          ("epoch", int), ("extra", dict)):
            if not isinstance(state.get(key, {}), kind) or isinstance(state.get(key), bool):
                raise self._damaged(f"{key} is of type {type(state.get(key)).__name__}, not {kind.__name__}")
        changed = sorted(k for k in set(state["settings"]) | set(self.settings)
                         if state["settings"].get(k) != self.settings.get(k))
        if changed:
            differences = ", ".join(f"{k} {state['settings'].get(k)} then, {self.settings.get(k)} now" for k in changed)
            raise ReidError(f"{self.checkpoint_path}: was made with other settings ({differences}); "
                            "resume with the same options or start a new --out")
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            random.setstate(_python_state(state["rng"]["python"]))
            name, keys, *rest = state["rng"]["numpy"]
            np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
            torch.set_rng_state(state["rng"]["torch"])
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise self._damaged(cause(exc)) from None
        return state["epoch"], state.get("extra", {})

    def _damaged(self, what: str) -> ReidError:
        return ReidError(f"{self.checkpoint_path}: a damaged reid checkpoint ({what}); start a new run in a new --out, "
                         "or move it aside to start this one over")

    def save_checkpoint(self, epoch: int, model, optimizer, scheduler, extra: dict | None = None) -> None:
        state = {"epoch": epoch, "settings": self.settings, "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "extra": extra or {},
                 "rng": {"python": random.getstate(), "numpy": _numpy_state(), "torch": torch.get_rng_state()}}
        write_atomic(self.checkpoint_path, lambda tmp: torch.save(state, tmp))

    def log(self, record: dict[str, Any]) -> None:
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.log_path.is_file():
            return []
        records = []
        for number, line in enumerate(self.log_path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line) if line.strip() else None
            except ValueError:
                record = False
            if record is False or (record is not None and not isinstance(record, dict)):
                raise ReidError(f"{self.log_path}: line {number} is not a record reid wrote; remove that line, or "
                                "start a new run in a new --out")
            records += [record] if record is not None else []
        return records

    def write_weights(self, state_dict: dict[str, torch.Tensor], filename: str = "weights.pt") -> Path:
        """The trained state dict in fp16: half the size; embeddings keep cosine > 0.9999 to fp32 (measured)."""
        half = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu() for k, v in state_dict.items()}
        return write_atomic(self.out / filename, lambda tmp: torch.save(half, tmp))

    def finish(self, config: dict[str, Any], plugin_code: str = PLUGIN_CODE) -> Path:
        """Config, loss curve, then plugin.py last, so a half-written folder never loads as a plugin."""
        write_json_atomic(self.out / "config.json", config)
        draw_loss_curve(self.records(), self.out / CURVE, title=config["name"])
        write_text_atomic(self.out / "plugin.py", plugin_code)
        self.checkpoint_path.unlink(missing_ok=True)
        (self.out / BestEpoch.FILE).unlink(missing_ok=True)
        return self.out


class BestEpoch:
    """Early stopping without stopping: keeps the weights of the epoch with the lowest validation EER.
    Epoch 0 (the starting weights) competes too, so training that hurts unseen characters is not kept."""

    FILE = "best.pt"

    def __init__(self, out: Path, state: dict | None = None):
        self.path = out / self.FILE
        self.epoch = (state or {}).get("best_epoch")
        self.eer = (state or {}).get("best_eer", float("inf"))
        if not (self.epoch is None or type(self.epoch) is int) or type(self.eer) not in (int, float):
            raise ReidError(f"{out / CHECKPOINT}: a damaged reid checkpoint (best epoch {self.epoch!r}, EER "
                            f"{self.eer!r}); start a new run in a new --out, or move it aside to start this one over")

    def offer(self, epoch: int, eer: float, model: torch.nn.Module) -> None:
        if eer < self.eer:
            self.epoch, self.eer = epoch, eer
            weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            write_atomic(self.path, lambda tmp: torch.save(weights, tmp))

    def state(self) -> dict:
        return {"best_epoch": self.epoch, "best_eer": self.eer}

    def load_into(self, model: torch.nn.Module) -> None:
        if self.epoch is not None:
            model.load_state_dict(torch.load(self.path, map_location="cpu", weights_only=True))


def run_epochs(run: TrainingRun, epochs: int, start: int, train_epoch: Callable[[int], dict[str, float]],
               save: Callable[[int], None]) -> None:
    """Train epochs ``start+1 .. epochs``, logging each one's numbers and checkpointing after it."""
    for epoch in range(start + 1, epochs + 1):
        began = time.perf_counter()
        record = train_epoch(epoch)
        run.log({"epoch": epoch, **record, "seconds": round(time.perf_counter() - began, 2)})
        save(epoch)


def train_batches(model: torch.nn.Module, batches: Iterable, step: Callable[..., torch.Tensor], optimizer,
                  progress, description: str, total: int, frozen: torch.nn.Module | None = None) -> float:
    """One pass over ``batches``; ``step(images, labels)`` returns the loss. Returns the mean loss.
    A ``frozen`` part stays in eval mode, so its batch-norm statistics stay those it was trained with."""
    model.train()
    if frozen is not None:
        frozen.eval()
    losses = []
    progress.start(total, description)
    for images, labels in batches:
        loss = step(images, labels)
        if not torch.isfinite(loss):
            raise ReidError(f"training diverged ({description}: the loss became {float(loss)}); lower --lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        progress.describe(f"{description} loss {np.mean(losses[-20:]):.4f}")
        progress.advance()
    if not losses:
        raise ReidError("no training batch could be formed; add images or lower --batch-size")
    return float(np.mean(losses))


@torch.no_grad()
def embed_images(forward: Callable[[torch.Tensor], torch.Tensor], images, transform, device,
                 batch_size: int = 64) -> np.ndarray:
    """L2-normalised features of in-memory images, in order (validation and DeepCluster's k-means)."""
    chunks = []
    for i in range(0, len(images), batch_size):
        batch = torch.stack([transform(image) for image in images[i:i + batch_size]]).to(device)
        chunks.append(torch.nn.functional.normalize(forward(batch).float().flatten(1), dim=1).cpu().numpy())
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)


def calibration_pairs(vectors: np.ndarray, labels) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(labels, score of every pair, whether the pair is one character), refused when either kind is missing."""
    from reid.search import metrics

    labels = [str(x) for x in labels]
    scores, same = metrics.pair_scores(vectors, labels)
    if same.all() or not same.any():
        raise ReidError(f"cannot calibrate the threshold: the {len(labels)} calibration images form "
                        f"{len(set(labels))} group(s), so there are no {'different' if same.all() else 'same'}-character "
                        "pairs; pass --val-dir with a labelled folder of several characters")
    return labels, scores, same


def verification_summary(vectors: np.ndarray, labels, pairs=None) -> dict[str, float]:
    """Top-1 and EER (with its threshold) of held-out images: what the plugin's threshold is set from. ``pairs``:
    what ``calibration_pairs`` returned for them, when the caller needs the scores too."""
    from reid.search import metrics

    labels, scores, same = pairs or calibration_pairs(vectors, labels)
    eer, threshold = metrics.equal_error_rate(scores, same)
    return {"top1": metrics.leave_one_out_top1(vectors, labels), "eer": eer, "threshold": threshold}


def complete(run: TrainingRun, config: dict[str, Any], *, calibration, calibrated_on: str, training: dict[str, Any],
             fuse: list[str], failures: list[ImageLoadError], device: str | None, progress) -> TrainingResult:
    """Calibrate the threshold on the finished encoder, built from its config as ``--plugin-dir`` will build it
    (fused with ``fuse`` encoders when asked), then write the config and plugin.py."""
    from reid.models.embedding import embed_paths
    from reid.models.encoders.config import encoder_from_config
    from reid.models.encoders.fusion import parse_weighted_names
    from reid.search import metrics

    if fuse:
        config["fuse"] = [{"encoder": name, "weight": weight} for name, weight in parse_weighted_names(fuse)]
        config["description"] += f", fused with {', '.join(fuse)}"
    write_json_atomic(run.out / "config.json", config)
    encoder = encoder_from_config(run.out / "config.json", device=device)
    embedded = embed_paths(encoder, calibration.paths, progress=progress, description="calibrating threshold")
    label_of = dict(zip(calibration.paths, calibration.labels))
    pairs = calibration_pairs(embedded.vectors, [label_of[p] for p in embedded.paths])
    summary = verification_summary(embedded.vectors, None, pairs)
    config["threshold"] = round(summary["threshold"], 4)
    # the same pairs, kept as percentiles: where `similarity` places a score among pairs of unseen characters
    config["score_calibration"] = {"set": calibrated_on, **metrics.score_quantiles(pairs[1], pairs[2])}
    config["training"] = {**training, "skipped": len(failures), "calibrated_on": calibrated_on,
                          "calibration": {k: round(v, 4) for k, v in summary.items()}}
    run.finish(config)
    return TrainingResult(run.out, config, run.records(), failures)
