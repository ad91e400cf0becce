import random
from pathlib import Path

import pytest

from reid import plugins
from reid.io.synthetic import CHARACTERS, draw_character, write_dataset

from helpers import Cli, write_review_result


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (benchmarks, Ray, browser, signals); CI does")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow (CI does)")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clean_plugins(monkeypatch):
    monkeypatch.delenv(plugins.PLUGIN_PATH_ENV, raising=False)
    monkeypatch.setenv("REID_DEVICE", "cpu")
    monkeypatch.setenv("REID_BACKEND", "torch")  # no ONNX export per test; the ONNX tests ask for it themselves
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


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def review_result(tmp_path) -> tuple[Path, dict]:
    """(result folder, truth) of write_review_result."""
    truth = write_review_result(tmp_path)
    return tmp_path / "result", truth
