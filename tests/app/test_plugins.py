import importlib.metadata
from pathlib import Path

import pytest

from helpers import CONFIG_PLUGIN, TOY_ENCODER_PLUGIN, write_plugin
from reid import plugins
from reid.models.encoders import DEFAULT_ENCODER, load_encoder
from reid.errors import UnknownNameError


def by_name(listing):
    return {p["name"]: p for p in listing}


def test_builtins_register_encoders_detectors_clusterers(cli):
    listing = by_name(cli.json("plugins"))
    assert listing["reid.models.encoders.builtin"]["registers"]["encoders"] == ["color_texture"]
    assert listing["reid.models.detectors.builtin"]["registers"]["detectors"] == ["animeface", "lbp_cascade", "whole"]
    assert set(listing["reid.models.clusterers.builtin"]["registers"]["clusterers"]) == {"hdbscan", "dbscan", "optics", "agglomerative", "knn_graph"}
    assert all(p["ok"] for p in listing.values())
    shipped = listing["charfaces_lite0"]  # the default model, a plugin directory under plugins/
    assert shipped["source"] == "directory" and shipped["registers"] == {"encoders": ["charfaces_lite0"]}


def test_plugin_directory_is_discovered_and_its_encoder_used(cli, tmp_path, dataset):
    plugin = write_plugin(tmp_path / "toy_plugin", TOY_ENCODER_PLUGIN)
    listing = by_name(cli.json("--plugin-dir", plugin, "plugins"))
    assert listing["toy_plugin"]["source"] == "directory"
    assert listing["toy_plugin"]["location"] == str(plugin / "plugin.py")
    assert listing["toy_plugin"]["registers"] == {"encoders": ["toy"]}
    a, b = sorted((dataset / "references" / "Aoi").iterdir())[:2]
    result = cli.json("--plugin-dir", plugin, "similarity", a, b, "--encoder", "toy")
    assert result["encoder"] == "toy" and result["threshold"] == 0.9


def test_folder_of_plugin_directories_and_env_path(cli, tmp_path, monkeypatch):
    write_plugin(tmp_path / "many" / "one", TOY_ENCODER_PLUGIN)
    write_plugin(tmp_path / "many" / "two", TOY_ENCODER_PLUGIN.replace('"toy"', '"toy2"'))
    monkeypatch.setenv(plugins.PLUGIN_PATH_ENV, str(tmp_path / "many"))
    listing = by_name(cli.json("plugins"))
    assert listing["one"]["registers"] == {"encoders": ["toy"]}
    assert listing["two"]["registers"] == {"encoders": ["toy2"]}


def test_load_order_builtins_then_entry_points_then_directories(cli, tmp_path, monkeypatch):
    (tmp_path / "ep_module.py").write_text(TOY_ENCODER_PLUGIN.replace('"toy"', '"from_ep"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [importlib.metadata.EntryPoint(name="ep_plugin", value="ep_module", group="reid")]
    monkeypatch.setattr(plugins.importlib.metadata, "entry_points", lambda group: eps if group == "reid" else [])
    plugin = write_plugin(tmp_path / "dir_plugin", TOY_ENCODER_PLUGIN)
    listing = cli.json("--plugin-dir", plugin, "plugins")
    assert [p["source"] for p in listing] == ["builtin"] * 3 + ["entrypoint"] + ["directory"] * 3
    assert [p["name"] for p in listing[-3:]] == ["charfaces_fcos", "charfaces_lite0", "dir_plugin"]  # shipped, then --plugin-dir
    assert listing[3]["registers"] == {"encoders": ["from_ep"]}


def test_broken_entry_point_is_reported(cli, monkeypatch):
    eps = [importlib.metadata.EntryPoint(name="gone", value="no_such_module_for_reid", group="reid")]
    monkeypatch.setattr(plugins.importlib.metadata, "entry_points", lambda group: eps)
    gone = by_name(cli.json("plugins"))["gone"]
    assert not gone["ok"] and "ModuleNotFoundError" in gone["error"]



@pytest.mark.parametrize("code, config, cause", [
    ("import no_such_module_for_reid\n", None, "ModuleNotFoundError: No module named 'no_such_module_for_reid'"),
    ("def broken(:\n", None, "SyntaxError"),
    ("import reid\n@reid.hookimpl\ndef register_encoder(register):\n    pass\n", None,
     "unknown hook 'register_encoder' (did you mean 'register_encoders'?)"),
    ("x = 1\n", None, "implements no reid hook"),
    ("import sys\nsys.exit(3)\n", None, "SystemExit: 3"),
    ("raise KeyboardInterrupt\n", None, "KeyboardInterrupt"),
    ("import sys, reid\n@reid.hookimpl\ndef register_encoders(register):\n    sys.exit(4)\n", None,
     "register_encoders failed: SystemExit: 4"),
    ("import reid\n@reid.hookimpl\ndef register_encoders(register):\n    raise RuntimeError('boom')\n", None,
     "register_encoders failed: RuntimeError: boom"),
    (CONFIG_PLUGIN,
     {"name": "needs_weights", "architecture": "resnet18_metric", "weights": "weights.pt"}, "weights file not found"),
    (CONFIG_PLUGIN,
     {"name": "x", "architecture": "vit_huge", "weights": "plugin.py"}, "unknown architecture 'vit_huge'; valid architectures: classifier_layer, metric, resnet18_metric"),
    (CONFIG_PLUGIN,
     {"name": "x", "architecture": "metric", "weights": "plugin.py", "fuse": "color_texture"}, '"fuse" must be a list'),
    (CONFIG_PLUGIN,
     {"name": "x", "architecture": "metric", "weights": "../good/plugin.py"}, "must name a file inside the plugin directory"),
    (CONFIG_PLUGIN,
     {"name": "x", "architecture": "metric", "weights": "/etc/hostname"}, "must name a file inside the plugin directory"),
])
def test_broken_plugin_is_reported_with_path_and_cause_and_others_keep_working(cli, tmp_path, dataset, code, config, cause):
    broken = write_plugin(tmp_path / "broken", code, config)
    good = write_plugin(tmp_path / "good", TOY_ENCODER_PLUGIN)
    info = by_name(cli.json("--plugin-dir", broken, "--plugin-dir", good, "plugins"))
    assert not info["broken"]["ok"] and cause in info["broken"]["error"]
    assert info["good"]["ok"] and info["good"]["registers"] == {"encoders": ["toy"]}
    a, b = sorted((dataset / "references" / "Aoi").iterdir())[:2]
    result = cli("--plugin-dir", broken, "--plugin-dir", good, "similarity", a, b, "--encoder", "toy")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "broken" in warnings[0] and str(tmp_path / "broken") in warnings[0] and cause in warnings[0]


def test_missing_plugin_directory_is_reported(cli, tmp_path):
    info = by_name(cli.json("--plugin-dir", tmp_path / "nowhere", "plugins"))
    assert "does not exist" in info["nowhere"]["error"]


def test_duplicate_encoder_name_marks_the_later_plugin_broken(cli, tmp_path):
    clash = write_plugin(tmp_path / "clash", TOY_ENCODER_PLUGIN.replace('"toy"', '"color_texture"'))
    info = by_name(cli.json("--plugin-dir", clash, "plugins"))
    assert "already registered by reid.models.encoders.builtin" in info["clash"]["error"]
    assert info["reid.models.encoders.builtin"]["ok"]


def test_unknown_encoder_name_lists_the_valid_ones(cli, dataset):
    a, b = sorted((dataset / "references" / "Aoi").iterdir())[:2]
    result = cli("similarity", a, b, "--encoder", "nope", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown encoder 'nope'; valid encoders: charfaces_lite0, color_texture"
    with pytest.raises(UnknownNameError, match="valid clusterers: agglomerative, dbscan, hdbscan, knn_graph, optics"):
        plugins.registry("clusterers").create("kmeans")


def test_reid_hookimpl_is_reexported():
    import reid
    from reid.hookspecs import hookimpl

    assert reid.hookimpl is hookimpl
    assert load_encoder().name == DEFAULT_ENCODER == "charfaces_lite0"


def test_default_falls_back_to_the_weights_free_encoder_without_the_shipped_model(monkeypatch, tmp_path):
    monkeypatch.setattr(plugins, "SHIPPED_PLUGINS", tmp_path / "not_installed")
    plugins.reset()
    assert load_encoder().name == "color_texture"


def test_shipped_plugins_are_found_through_the_reid_package_never_a_generic_folder(tmp_path, monkeypatch):
    # a wheel install once looked in <site-packages>/plugins, which any package could fill
    write_plugin(tmp_path / "plugins" / "evil", "raise SystemExit('a stranger ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    shipped = plugins._shipped_plugins_folder()
    assert shipped == plugins.SHIPPED_PLUGINS and (shipped / "charfaces_lite0" / "weights.pt").is_file()
    assert tmp_path not in shipped.parents
    assert "evil" not in {info.name for info in plugins.plugins()}


def test_the_wheel_carries_the_shipped_plugin_directories():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    setuptools = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "reid.shipped_plugins" in setuptools["packages"] and setuptools["package-dir"]["reid.shipped_plugins"] == "plugins"
    data = setuptools["package-data"]["reid.shipped_plugins"]
    assert {"*/plugin.py", "*/config.json", "*/*.pt"} <= set(data)


def test_plugins_check_builds_encoders_so_corrupt_weights_show(cli, tmp_path):
    plugin = write_plugin(tmp_path / "corrupt", CONFIG_PLUGIN, {"name": "corrupt", "architecture": "resnet18_metric", "weights": "weights.pt"})
    (plugin / "weights.pt").write_bytes(b"not a torch file")
    quick = by_name(cli.json("--plugin-dir", plugin, "plugins"))["corrupt"]
    assert quick["ok"] and not quick["checked"]
    checked = by_name(cli.json("--plugin-dir", plugin, "plugins", "--check"))["corrupt"]
    assert not checked["ok"] and "cannot read weights" in checked["error"] and "weights.pt" in checked["error"]
    assert "--check" in cli("--plugin-dir", plugin, "plugins").stdout


def test_plugins_written_against_the_earlier_module_paths_get_the_very_same_classes():
    import reid.clusterers.base
    import reid.detectors.base
    from reid.encoders.base import Encoder as earlier

    from reid.models.clusterers.base import Clusterer
    from reid.models.detectors.base import Detector
    from reid.models.encoders.base import Encoder

    assert earlier is Encoder and reid.detectors.base.Detector is Detector and reid.clusterers.base.Clusterer is Clusterer
    assert reid.detectors.base.__spec__.name == "reid.models.detectors.base"  # one module, under its own name
