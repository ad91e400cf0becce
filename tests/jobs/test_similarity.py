"""similarity says how sure its verdict is: where the score lies among pairs of characters the encoder never saw."""

import json

import numpy as np
import torch

from helpers import CONFIG_PLUGIN, write_plugin
from reid.jobs.similarity import certainty
from reid.models.encoders import DEFAULT_ENCODER, load_encoder
from reid.models.networks.encoder_nets import MetricNet
from reid.search.metrics import score_quantiles, share_below


class Calibrated:
    # same-character pairs score 0.5..0.9, different ones 0.1..0.6
    score_calibration = {"set": "drawn", "same": list(np.linspace(0.5, 0.9, 101)), "different": list(np.linspace(0.1, 0.6, 101))}


def test_a_score_among_both_kinds_of_pairs_is_borderline_and_one_far_from_them_is_not():
    near = certainty(Calibrated(), 0.55, same=False)
    assert near["borderline"] and abs(near["same_pairs_below"] - 0.125) < 1e-6
    far = certainty(Calibrated(), 0.85, same=True)
    assert not far["borderline"] and far["different_pairs_at_or_above"] == 0.0
    assert certainty(load_encoder("color_texture"), 0.9, same=True) == {}  # no calibration shipped: nothing claimed


def test_quantiles_read_back_the_share_of_pairs_below_a_score():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0.5, 1.0, 2000), rng.uniform(0.0, 0.5, 8000)])
    same = np.arange(10000) < 2000
    quantiles = score_quantiles(scores, same)
    assert len(quantiles["same"]) == 101 and abs(share_below(0.75, quantiles["same"]) - 0.5) < 0.02
    assert share_below(2.0, quantiles["different"]) == 1.0 and share_below(-1.0, quantiles["same"]) == 0.0


def test_the_shipped_encoder_says_how_sure_it_is(cli, dataset):
    aoi = sorted((dataset / "references" / "Aoi").iterdir())
    beni = sorted((dataset / "references" / "Beni").iterdir())
    result = cli.json("similarity", aoi[0], beni[0])
    assert result["encoder"] == DEFAULT_ENCODER and isinstance(result["borderline"], bool)
    assert 0 <= result["same_pairs_below"] <= 1 and "never trained on" in result["calibration_set"]
    assert "pairs of unseen characters score" in cli("similarity", aoi[0], aoi[1]).stdout


def test_a_damaged_score_calibration_is_one_line_naming_the_config(cli, dataset, tmp_path):
    torch.save(MetricNet(8, "resnet18").state_dict(), tmp_path / "weights.pt")
    config = {"name": "cal", "architecture": "metric", "arch": "resnet18", "weights": "weights.pt", "embedding_dim": 8,
              "input_size": 32, "score_calibration": {"same": [0.9, 0.1], "different": "all"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    write_plugin(tmp_path, CONFIG_PLUGIN)
    image = next((dataset / "references" / "Aoi").iterdir())
    result = cli("--plugin-dir", tmp_path, "similarity", image, image, "--encoder", "cal", ok=False)
    assert result.exit_code == 1 and "score_calibration" in result.stderr and "config.json" in result.stderr
