"""The CPU inference path: batch norm folded, channels-last, ONNX Runtime (exported, checked, cached), and images
decoded by a thread pool ahead of the network; every one gives the same embeddings as plain torch."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from reid.progress import NoProgress

from reid.io.images import readable_images
from reid.models.encoders.inference import fold_batchnorm
from reid.models.networks.encoder_nets import MetricNet
from reid.models.encoders.trained import MetricEncoder
from reid.errors import ReidError
from reid.io.synthetic import CHARACTERS, draw_character


def drawn(n=6):
    rng = random.Random(2)
    return [draw_character(CHARACTERS[i % len(CHARACTERS)], rng, 96) for i in range(n)]


def test_fold_batchnorm_keeps_the_outputs():
    net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
                        nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4)))
    for bn in (net[0][1], net[1][1]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)
    net.eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        before = net(x)
        assert fold_batchnorm(net) == 2
        assert torch.allclose(net(x), before, atol=1e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    net = MetricNet(64, "efficientnet_lite0")
    for m in net.modules():  # untrained statistics would make every folding trivially exact
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "plugin" / "weights.pt"
    path.parent.mkdir()
    torch.save(net.state_dict(), path)
    return path


def encoder(weights, backend, monkeypatch):
    monkeypatch.setenv("REID_BACKEND", backend)
    return MetricEncoder(weights=weights, name="toy_metric", embedding_dim=64, arch="efficientnet_lite0",
                         input_size=96, mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu", flip=True)


@pytest.mark.slow
def test_onnx_runtime_gives_torchs_embeddings_and_caches_the_export(weights, monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("REID_CACHE_DIR", str(tmp_path / "cache"))
    images = drawn()
    reference = encoder(weights, "torch", monkeypatch).embed(images)
    fast = encoder(weights, "onnx", monkeypatch)
    assert np.abs(fast.embed(images) - reference).max() < 1e-4
    exported = list((tmp_path / "cache" / "onnx").glob("weights.*.onnx"))
    assert len(exported) == 1 and exported[0].with_name(exported[0].name + ".json").exists()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    assert np.abs(encoder(weights, "onnx", monkeypatch).embed(images) - reference).max() < 1e-4  # from the cache
    monkeypatch.undo()
    monkeypatch.setenv("REID_CACHE_DIR", str(tmp_path / "cache"))

    exported[0].write_bytes(b"damaged")  # a broken cache file is exported again, not trusted
    assert np.abs(encoder(weights, "onnx", monkeypatch).embed(images) - reference).max() < 1e-4
    assert exported[0].stat().st_size > 1000


def test_the_onnx_export_goes_to_the_user_cache_never_into_the_plugin_folder(weights, monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("REID_CACHE_DIR", str(tmp_path / "cache"))
    encoder(weights, "onnx", monkeypatch).embed(drawn(2))
    assert list((tmp_path / "cache" / "onnx").glob("weights.*.onnx")) and not list(weights.parent.glob("*.onnx"))


def test_backend_choices_and_failures(weights, monkeypatch):
    with pytest.raises(ReidError, match="choose one of auto, torch, onnx"):
        encoder(weights, "tensorrt", monkeypatch)
    monkeypatch.setattr("reid.models.encoders.trained.onnx_network", lambda *a, **k: (None, "ValueError: differs"))
    with pytest.raises(ReidError, match="ONNX Runtime cannot run it .ValueError: differs.; unset"):
        encoder(weights, "onnx", monkeypatch).embed(drawn(1))
    assert encoder(weights, "torch", monkeypatch).embed(drawn(1)).shape == (1, 64)
    fallback = encoder(weights, "auto", monkeypatch)  # the default: torch where ONNX Runtime cannot run it
    assert fallback.embed(drawn(1)).shape == (1, 64) and fallback._backend == "torch"


def test_thread_pool_decoding_keeps_order_and_reports_bad_files(tmp_path):
    paths = []
    for i, image in enumerate(drawn(9)):
        path = tmp_path / f"{i}.png"
        image.save(path)
        paths.append(path)
    paths[3].write_bytes(b"not an image")
    paths.insert(6, tmp_path / "missing.png")
    failures = []
    got = [p for p, _ in readable_images(paths, failures, NoProgress())]
    assert got == [p for p in paths if p not in (paths[3], paths[6])]
    assert [f.path for f in failures] == [paths[3], paths[6]]
