
import numpy as np
import pytest
import torch

import helpers
from reid.device import resolve_device
from reid.models.encoders import load_encoder
from reid.errors import PluginError, ReidError
from reid.io.images import load_image, list_images


def references(dataset, name):
    return [load_image(p) for p in list_images(dataset / "references" / name)]


def test_color_texture_embeddings_are_normalised_float32_and_batch_independent(dataset):
    images = references(dataset, "Aoi") + references(dataset, "Beni")
    one = load_encoder("color_texture", batch_size=1).embed(images)
    many = load_encoder("color_texture", batch_size=5).embed(images)
    assert one.dtype == np.float32 and one.flags.c_contiguous
    assert one.shape == (len(images), load_encoder("color_texture").embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert load_encoder().embed([]).shape == (0, load_encoder().embedding_dim)


def test_color_texture_scores_same_character_above_different(dataset):
    encoder = load_encoder()
    aoi, beni = encoder.embed(references(dataset, "Aoi")), encoder.embed(references(dataset, "Beni"))
    same = (aoi @ aoi.T)[np.triu_indices(len(aoi), 1)]
    different = aoi @ beni.T
    assert same.mean() > different.mean() + 0.1


def save_metric_plugin(tmp_path, *, dim=16, config_dim=None):
    return helpers.save_metric_plugin(tmp_path / "metric_plugin", dim=dim, config_dim=config_dim)


def test_resnet18_metric_plugin_directory_loads_offline_and_embeds(cli, tmp_path, dataset):
    plugin = save_metric_plugin(tmp_path)
    listing = {p["name"]: p for p in cli.json("--plugin-dir", plugin, "plugins")}
    assert listing["metric_plugin"]["registers"] == {"encoders": ["tiny_metric"]}
    from reid import plugins
    plugins.load_plugins([plugin])
    encoder = load_encoder("tiny_metric")
    vectors = encoder.embed(references(dataset, "Aoi")[:3])
    assert vectors.shape == (3, 16) and encoder.threshold == 0.7 and encoder.input_size == 64
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.identity()["weights"] == "weights.pt"


def test_weights_that_do_not_fit_the_config_fail_with_one_line(cli, tmp_path, dataset):
    plugin = save_metric_plugin(tmp_path, dim=16, config_dim=32)
    a, b = list_images(dataset / "references" / "Aoi")[:2]
    result = cli("--plugin-dir", plugin, "similarity", a, b, "--encoder", "tiny_metric", ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "does not fit resnet18 with a 32-d projection" in result.stderr


def test_corrupt_weights_file_is_a_plugin_error(tmp_path):
    plugin = save_metric_plugin(tmp_path)
    (plugin / "weights.pt").write_bytes(b"not a torch file")
    from reid import plugins
    plugins.load_plugins([plugin])
    with pytest.raises(PluginError, match="cannot read weights"):
        load_encoder("tiny_metric")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_requested_without_cuda_says_so():
    with pytest.raises(ReidError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device(None).type == "cpu"
