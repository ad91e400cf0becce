import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reid import plugins
from reid.app.main import app
from reid.synthetic import CHARACTERS, draw_character, write_dataset


@pytest.fixture(autouse=True)
def clean_plugins(monkeypatch):
    monkeypatch.delenv(plugins.PLUGIN_PATH_ENV, raising=False)
    monkeypatch.setenv("REID_DEVICE", "cpu")
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    """references/<3 characters>/ x 6, targets/ (with a never-enrolled character), enroll.json."""
    root = tmp_path_factory.mktemp("dataset")
    write_dataset(root, characters=3, per_character=6, size=64, seed=1)
    return root


@pytest.fixture
def data(dataset, tmp_path) -> Path:
    """A private copy of the dataset: tests may add files or caches to it."""
    import shutil

    return Path(shutil.copytree(dataset, tmp_path / "data"))


@pytest.fixture
def draw(tmp_path):
    """draw(name, path, seed): one drawing of a synthetic character saved as PNG."""

    def _draw(character: str, path: Path, seed: int = 0) -> Path:
        by_name = {c.name: c for c in CHARACTERS}
        path.parent.mkdir(parents=True, exist_ok=True)
        draw_character(by_name[character], random.Random(seed), 64).save(path)
        return path

    return _draw


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


@pytest.fixture
def cli() -> Cli:
    return Cli()


def write_plugin(directory: Path, code: str, config: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.py").write_text(code)
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    return directory


TOY_ENCODER_PLUGIN = '''
import torch
import reid
from reid.encoders.base import Encoder


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
