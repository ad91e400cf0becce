"""The plugin border: an encoder or detector that breaks its contract is named in one error line; boxes outside
the image are clipped, or dropped and counted."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from helpers import write_plugin
from reid.errors import PluginError, PluginWarning
from reid.models.contract import checked_vectors, detect_checked, report_dropped
from reid.models.detectors.base import Box, Detector
from reid.models.encoders.base import Encoder

BAD_ENCODERS = '''
import os
import numpy as np
import torch
import reid
from reid.models.encoders.base import Encoder


class Bad(Encoder):
    name = "bad"
    input_size = 8
    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)
    embedding_dim = 3

    def forward(self, batch):
        out = batch.mean(dim=(2, 3))
        mode = os.environ["BAD"]
        if mode == "nan":
            out[0, 0] = float("nan")
        if mode == "width":
            out = torch.cat([out, out], 1)
        if mode == "row":
            out = torch.cat([out, out[:1]])
        return out


class BadEmbed(Bad):
    name = "bad_embed"

    def embed(self, images, **kwargs):
        n = len(list(images))
        return np.ones((n, 3), dtype=np.int64) if os.environ["BAD"] == "int" else [[1.0, 0.0]] * n


@reid.hookimpl
def register_encoders(register):
    register("bad", Bad)
    register("bad_embed", BadEmbed)
'''

BAD_DETECTOR = '''
import os
import reid
from reid.models.detectors.base import Box, Detector


class BadBoxes(Detector):
    name = "bad_boxes"

    def detect(self, image):
        w, h = image.size
        return {"outside": [Box(-10, -10, w + 50, h + 50), Box(w + 5, 0, w + 20, 10)],
                "inverted": [Box(w, h, 0, 0)], "nan": [Box(float("nan"), 0, 10, 10)], "text": ["face"],
                "tuple": [(0, 0, 20.5, 20)]}[os.environ["BAD"]]


@reid.hookimpl
def register_detectors(register):
    register("bad_boxes", BadBoxes)
'''


@pytest.fixture
def bad_plugins(tmp_path):
    return (write_plugin(tmp_path / "encoders", BAD_ENCODERS), write_plugin(tmp_path / "detectors", BAD_DETECTOR))


@pytest.mark.parametrize("encoder, mode, said", [
    ("bad", "nan", r"NaN or infinite values in \d+ rows? for \d+ images?"),
    ("bad", "width", r"rows of width 6 \(it declares embedding_dim 3\)"),
    ("bad", "row", r"(\d+) rows for (?!\1)\d+ images?"),
    ("bad_embed", "int", "values of type int64"),
    ("bad_embed", "list", "rows of width 2"),
])
def test_an_encoder_breaking_its_contract_is_one_line_naming_it(cli, data, bad_plugins, monkeypatch, encoder, mode, said):
    monkeypatch.setenv("BAD", mode)
    a, b = sorted((data / "references" / "Aoi").iterdir())[:2]
    for args in (("similarity", a, b), ("cluster", data / "targets"),
                 ("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets")):
        result = cli("--plugin-dir", bad_plugins[0], *args, "--encoder", encoder, ok=False)
        assert result.exit_code == 1 and "Traceback" not in result.stderr, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert re.search(said, line) and f"encoder {encoder!r}" in line and "plugin.py" in line, line


@pytest.mark.parametrize("mode, said", [
    ("inverted", "right or bottom edge comes before its left or top"),
    ("nan", "not finite numbers"),
    ("text", "str 'face' as a box"),
])
def test_a_detector_returning_what_is_not_a_box_is_one_line_naming_it(cli, data, bad_plugins, monkeypatch, mode, said):
    monkeypatch.setenv("BAD", mode)
    for args in (("detect", data / "targets"), ("cluster", data / "targets")):
        result = cli("--plugin-dir", bad_plugins[1], *args, "--detector", "bad_boxes", ok=False)
        line = result.stderr.strip().splitlines()[-1]
        assert result.exit_code == 1 and said in line and "detector 'bad_boxes'" in line, result.stderr


def test_boxes_outside_the_image_are_clipped_or_dropped_and_counted(cli, data, bad_plugins, monkeypatch):
    monkeypatch.setenv("BAD", "outside")
    result = cli("--plugin-dir", bad_plugins[1], "detect", data / "targets", "--detector", "bad_boxes", "--json")
    found = json.loads(result.stdout)
    assert found["outside_image"] == found["images"] and found["faces"] == found["images"]
    assert all(boxes == [[0, 0, 64, 64]] for boxes in found["boxes"].values())
    assert "boxes with no area inside the image; left out" in result.stderr


def test_a_box_given_as_numbers_is_taken_whole_pixels_outward():
    class Tuples(Detector):
        def detect(self, image):
            return [(np.float32(2.5), 1, 20.2, np.int64(30), 0.9)]

    boxes, dropped = detect_checked(Tuples(), Image.new("RGB", (25, 25)))
    assert boxes == [Box(2, 1, 21, 25, 0.9)] and dropped == 0


def test_vectors_are_returned_unit_length_float32_and_contiguous():
    class Three(Encoder):
        embedding_dim = 3

        def forward(self, batch):
            raise NotImplementedError

    vectors = checked_vectors(Three(), np.asfortranarray([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]]), 2)
    assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    with pytest.raises(PluginError, match=r"returned 1 row for 2 images"):
        checked_vectors(Three(), np.ones((1, 3), np.float32), 2)


def test_the_dropped_box_warning_is_a_plugin_warning():
    class Empty(Detector):
        def detect(self, image):
            return []

    with pytest.warns(PluginWarning, match="2 boxes with no area"):
        report_dropped(Empty(), 2)
