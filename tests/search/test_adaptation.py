"""Enrollment-time adaptation (`reid enroll --adapt`) on tiny untrained networks and drawn characters."""

import json

import numpy as np
import pytest
import torch

from helpers import one_error_line, save_metric_plugin, snapshot
from reid import plugins
from reid.models.encoders import load_encoder
from reid.models.networks.encoder_nets import MetricNet
from reid.models.networks.split import DEPTHS, split_network
from reid.search.adapted_enrollment import adaptation_holds_up, adapted_weights_path, enroll_adapted, fold_score
from reid.search.open_set import calibrate
from reid.search.ranking import Mode
from reid.training.adapt import AdaptSettings

FEW_STEPS = AdaptSettings(steps=3, views=1)


@pytest.fixture
def lite(tmp_path):
    """An untrained EfficientNet-Lite0 metric plugin fused with color_texture, as the shipped encoder is."""
    plugin = save_metric_plugin(tmp_path / "lite_plugin", name="tiny_lite", arch="efficientnet_lite0",
                                fuse=[{"encoder": "color_texture", "weight": 1.0}])
    plugins.load_plugins([plugin])
    return plugin


@pytest.mark.parametrize("arch", ["efficientnet_lite0", "resnet18"])
def test_the_split_network_computes_what_the_whole_one_does(arch):
    torch.manual_seed(0)
    net = MetricNet(8, arch).eval()
    prefix, tail = split_network(net)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(tail(prefix(x)), net(x), rtol=1e-4, atol=1e-5)
    assert [tail.first_learning(d) for d in DEPTHS] == sorted(tail.first_learning(d) for d in DEPTHS)[::-1]


def test_adaptation_changes_the_network_is_reused_and_never_touches_the_plugin(lite, data):
    before = snapshot(lite)
    encoder = load_encoder("tiny_lite")
    enrolled, adapted = enroll_adapted(data / "enroll.json", encoder, settings=FEW_STEPS, always=True)
    weights = adapted_weights_path(enrolled.index_path)
    assert not enrolled.reused and enrolled.adapted_weights == weights and weights.is_file()
    saved = torch.load(weights, weights_only=True)["state"]
    base = encoder.parts[0][0].network().state_dict()
    assert saved and set(saved) < set(base)  # the tail only
    assert any(not torch.equal(saved[k], base[k]) for k in saved)
    assert "adapted" in adapted.parts[0][0].identity()
    images = [data / "targets" / "target_000.png"]
    from reid.io.images import load_image
    picture = [load_image(p) for p in images]
    assert not np.allclose(adapted.embed(picture), encoder.embed(picture))
    assert {Mode.any, Mode.avg, Mode.head} <= set(enrolled.calibration)
    stamp = weights.stat().st_mtime_ns

    again, _ = enroll_adapted(data / "enroll.json", load_encoder("tiny_lite"), settings=FEW_STEPS, always=True)
    assert again.reused and again.adapted_weights == weights and weights.stat().st_mtime_ns == stamp
    assert snapshot(lite) == before


def test_a_changed_reference_adapts_again(lite, data, draw):
    encoder = load_encoder("tiny_lite")
    first, _ = enroll_adapted(data / "enroll.json", encoder, settings=FEW_STEPS, always=True)
    key = torch.load(first.adapted_weights, weights_only=True)["key"]
    reference = sorted((data / "references" / "Aoi").iterdir())[0]
    draw("Aoi", reference, seed=99)
    second, _ = enroll_adapted(data / "enroll.json", encoder, settings=FEW_STEPS, always=True)
    assert not second.reused
    assert torch.load(second.adapted_weights, weights_only=True)["key"] != key


def test_an_adaptation_that_does_not_pay_on_the_folds_leaves_the_base_encoder(lite, data, monkeypatch):
    monkeypatch.setattr("reid.search.adapted_enrollment.adaptation_holds_up", lambda frozen, adapted: False)
    encoder = load_encoder("tiny_lite")
    enrolled, used = enroll_adapted(data / "enroll.json", encoder, settings=FEW_STEPS)
    assert used is encoder and enrolled.adapted_weights is None
    assert not enrolled.adaptation["kept"] and set(enrolled.adaptation["folds"]) == {"base", "adapted"}
    assert enrolled.index.meta["encoder_identity"] == encoder.identity()
    again, used = enroll_adapted(data / "enroll.json", load_encoder("tiny_lite"), settings=FEW_STEPS)
    assert again.reused and not again.adaptation["kept"] and "adapted" not in used.parts[0][0].identity()


def test_the_folds_score_names_right_and_strangers_unknown():
    labels = [c for c in "abc" for _ in range(4)]
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16))
    views = np.stack([centres[i // 4] + 0.1 * rng.normal(size=16) for i in range(12)])[:, None].astype(np.float32)
    views /= np.linalg.norm(views, axis=2, keepdims=True)
    calibration = calibrate(views, labels, [Mode.any])
    assert calibration[Mode.any].known_named == 1.0 and fold_score(calibration) == 1.0
    scrambled = calibrate(rng.permutation(views), labels, [Mode.any])
    assert fold_score(scrambled) < 0.9 and adaptation_holds_up(scrambled, calibration)
    assert not adaptation_holds_up(calibration, scrambled) and adaptation_holds_up(calibration, calibration)


def test_each_calibration_fold_adapts_without_its_strangers():
    rng = np.random.default_rng(0)
    labels = [c for c in "abcd" for _ in range(4)]
    views = rng.normal(size=(16, 1, 8)).astype(np.float32)
    views /= np.linalg.norm(views, axis=2, keepdims=True)
    seen = []

    def refit(rows):
        seen.append(sorted({labels[r] for r in rows}))
        return views

    calibrate(views, labels, [Mode.any], refit=refit)
    assert len(seen) == 4 and all(len(s) == 3 for s in seen)  # one character left out in turn


def test_enroll_adapt_then_classify_follows_the_enrollment(cli, lite, data, monkeypatch):
    monkeypatch.setattr("reid.search.adapted_enrollment.DEFAULT_SETTINGS", FEW_STEPS)
    monkeypatch.setattr("reid.search.adapted_enrollment.adaptation_holds_up", lambda frozen, adapted: True)
    enrolled = cli.json("--plugin-dir", lite, "enroll", data / "enroll.json", "--adapt", "--encoder", "tiny_lite")
    assert enrolled["adapted"] and enrolled["adapted_weights"].endswith(".tiny_lite.adapted.pt")
    assert enrolled["adaptation"]["kept"] and set(enrolled["adaptation"]["folds"]) == {"base", "adapted"}
    result = cli.json("--plugin-dir", lite, "classify", "--enroll", data / "enroll.json", "--target-dir",
                      data / "targets", "--encoder", "tiny_lite")
    assert result["adapted"] and result["index_reused"]
    base = cli.json("--plugin-dir", lite, "classify", "--enroll", data / "enroll.json", "--target-dir",
                    data / "targets", "--encoder", "tiny_lite", "--no-adapt")
    assert not base["adapted"] and base["index"].endswith(".tiny_lite.faiss")


def test_adapt_refuses_what_it_cannot_do_in_one_line(cli, lite, data):
    one_error_line(cli("enroll", data / "enroll.json", "--adapt", "--encoder", "color_texture", ok=False),
                   "color_texture", "cannot adapt")
    one_error_line(cli("--plugin-dir", lite, "enroll", data / "enroll.json", "--adapt", "--encoder", "tiny_lite",
                       "--ivf", "4", ok=False), "--ivf")
    assert not list(data.glob("*.adapted.*"))


def test_enroll_adapt_on_bad_references_skips_or_refuses_in_one_line(cli, lite, data, monkeypatch):
    monkeypatch.setattr("reid.search.adapted_enrollment.DEFAULT_SETTINGS", FEW_STEPS)
    enroll = ["--plugin-dir", lite, "enroll", "--adapt", "--encoder", "tiny_lite"]
    good = sorted((data / "references" / "Aoi").iterdir())[0]
    broken = data / "references" / "Aoi" / "broken.png"
    broken.write_bytes(good.read_bytes()[:60])  # a truncated PNG
    result = cli.json(*enroll, data / "enroll.json")
    assert result["skipped"] == 1 and set(result["adaptation"]["folds"]) == {"base", "adapted"}

    config = json.loads((data / "enroll.json").read_text())
    (data / "only_broken").mkdir()
    (data / "only_broken" / "face.png").write_bytes(b"not an image")
    (data / "enroll_bad.json").write_text(json.dumps({**config, "Zed": "only_broken"}))
    one_error_line(cli(*enroll, data / "enroll_bad.json", ok=False), "Zed", "face.png")

    (data / "empty").mkdir()
    (data / "enroll_empty.json").write_text(json.dumps({**config, "Zed": "empty"}))
    one_error_line(cli(*enroll, data / "enroll_empty.json", ok=False), "empty")

    one_error_line(cli(*enroll, data / "nowhere.json", ok=False), "nowhere.json")
    assert not list(data.glob("enroll_bad.*adapted*")) and not list(data.glob("enroll_empty.*adapted*"))
