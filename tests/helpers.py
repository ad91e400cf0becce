"""Helpers that several test files share: a CLI runner, plugin directories on disk, a drawn review result."""

import json
import random
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from reid.app.main import app
from reid.io.synthetic import CHARACTERS, draw_character


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, ok: bool = True):
        result = self.runner.invoke(app, [str(a) for a in args])
        if ok and result.exit_code != 0:
            raise AssertionError(f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}")
        return result

    def json(self, *args):
        return json.loads(self(*args, "--json").stdout)


def one_error_line(result, *needles):
    """The command failed with exit code 1 and one ``error:`` line that holds each of ``needles``."""
    assert result.exit_code == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert str(needle) in lines[0]


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes, to tell that a command changed nothing."""
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_plugin(directory: Path, code: str, config: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.py").write_text(code)
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    return directory


TOY_ENCODER_PLUGIN = '''
import torch
import reid
from reid.models.encoders.base import Encoder


class MeanColour(Encoder):
    name = "toy"
    input_size = 8
    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)
    embedding_dim = 3
    threshold = 0.9

    def forward(self, batch):
        return batch.mean(dim=(2, 3))


@reid.hookimpl
def register_encoders(register):
    register("toy", MeanColour, description="mean colour")
'''


def write_review_result(root: Path) -> dict:
    """A cluster result as `cluster --result-dir` writes it, with the mistakes a review is for: Aoi split in two
    clusters (cluster_02, cluster_03), one Beni face among Kiiro's (cluster_00), Midori left as noise. Embeddings are
    one direction per character, so the suggestions are known. Returns the truth: {character: [face ids]}, the
    images under root/images and targets under root/targets (for classify with the export)."""
    import numpy as np

    by_name = {c.name: c for c in CHARACTERS}
    rng = random.Random(5)
    plan = {"cluster_00": ["Kiiro"] * 5 + ["Beni"], "cluster_01": ["Beni"] * 4, "cluster_02": ["Aoi"] * 3,
            "cluster_03": ["Aoi"] * 3, "noise": ["Midori"] * 2}
    axes = {name: k for k, name in enumerate(["Aoi", "Beni", "Kiiro", "Midori"])}
    groups, vectors, truth = {}, [], {}
    for key, names in plan.items():
        groups[key] = []
        for name in names:
            face = len(vectors)
            path = root / "images" / f"{name.lower()}_{face:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            if face % 2:  # a face in a larger picture, with its box
                page = Image.new("RGB", (96, 80), (250, 250, 250))
                page.paste(draw_character(by_name[name], rng, 64), (24, 8))
                page.save(path)
                groups[key].append({"path": str(path), "box": [24, 8, 88, 72]})
            else:
                draw_character(by_name[name], rng, 64).save(path)
                groups[key].append(str(path))
            v = np.full(4, 0.05) + np.random.default_rng(face).normal(0, 0.05, 4)
            v[axes[name]] = 1.0
            vectors.append(v)
            truth.setdefault(name, []).append(face)
    for name in ("Aoi", "Beni", "Kiiro"):
        for i in range(3):
            draw_character(by_name[name], rng, 64).save(_mkdir(root / "targets") / f"{name.lower()}_t{i}.png")
    result = _mkdir(root / "result")
    (result / "clusters.json").write_text(json.dumps({"method": "hdbscan", "umap_dim": 0, "clusters": 4, "noise": 2,
                                                       "margin": 0.0, "groups": groups}))
    np.save(result / "embeddings.npy", np.asarray(vectors, dtype=np.float16))
    return truth


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# plugin.py of a directory whose config.json describes the encoder
CONFIG_PLUGIN = '''
from pathlib import Path
import reid

@reid.hookimpl
def register_encoders(register):
    reid.register_encoder_config(register, Path(__file__).with_name("config.json"))
'''


def save_metric_plugin(directory: Path, *, name: str = "tiny_metric", arch: str = "resnet18", dim: int = 16,
                       config_dim: int | None = None, input_size: int = 64, fuse: list | None = None) -> Path:
    """A plugin directory with an untrained metric network (fp16 weights, as shipped) and its config."""
    import torch

    from reid.models.networks.encoder_nets import MetricNet

    torch.manual_seed(0)
    net = MetricNet(embedding_dim=dim, arch=arch)
    directory.mkdir(parents=True)
    torch.save({k: v.half() for k, v in net.state_dict().items()}, directory / "weights.pt")
    config = {"name": name, "architecture": "metric", "arch": arch, "weights": "weights.pt",
              "embedding_dim": config_dim or dim, "input_size": input_size, "threshold": 0.7,
              **({"fuse": fuse} if fuse else {})}
    return write_plugin(directory, CONFIG_PLUGIN, config)
