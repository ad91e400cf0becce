"""--context body: the region below each face fused with the face. Generated pictures: the same drawn face
above a red or a blue outfit, found by a test detector that takes the top-middle third as the face."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from helpers import write_plugin
from reid.models.context import BodyContext
from reid.models.detectors.base import Box
from reid.io.synthetic import CHARACTERS, draw_character

TOP_DETECTOR_PLUGIN = '''
import reid
from reid.models.detectors.base import Box, Detector


class Top(Detector):
    """The face is the top-middle third of the picture."""

    name = "top"

    def detect(self, image):
        w, h = image.size
        return [Box(w // 3, 0, 2 * w // 3, h // 3)]


@reid.hookimpl
def register_detectors(register):
    register("top", Top, description="top-middle third (tests)")
'''
OUTFITS = {"red": (200, 40, 40), "blue": (40, 60, 200)}


def outfit_picture(path: Path, outfit: str, seed: int) -> Path:
    """96 x 96: one character's face (the same for every outfit) over a shirt of the outfit's colour."""
    rng = random.Random(seed)
    picture = Image.new("RGB", (96, 96), "white")
    picture.paste(draw_character(CHARACTERS[0], rng, 32), (32, 0))
    shirt = tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in OUTFITS[outfit])
    ImageDraw.Draw(picture).rounded_rectangle([18 + rng.randint(-4, 4), 36, 78 + rng.randint(-4, 4), 95], radius=10, fill=shirt)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


@pytest.fixture
def outfits(tmp_path):
    """labelled/<red|blue>/ x 6 pictures, targets/ x 4, enroll.json (red, blue), and the detector plugin."""
    for outfit in OUTFITS:
        for i in range(6):
            outfit_picture(tmp_path / "labelled" / outfit / f"{outfit}_{i}.png", outfit, seed=100 * len(outfit) + i)
        for i in range(2):
            outfit_picture(tmp_path / "targets" / f"{outfit}_target_{i}.png", outfit, seed=1000 * len(outfit) + i)
    (tmp_path / "enroll.json").write_text(json.dumps({o: f"labelled/{o}" for o in OUTFITS}))
    return tmp_path, write_plugin(tmp_path / "top_plugin", TOP_DETECTOR_PLUGIN)


def test_body_context_tells_apart_one_face_in_two_outfits(cli, outfits):
    root, plugin = outfits
    args = ["--plugin-dir", plugin, "evaluate", root / "labelled", "--detector", "top", "--encoder", "color_texture",
            "--runs", "1", "--umap-dim", "0", "--min-cluster-size", "3"]
    face = cli.json(*args)
    body = cli.json(*args, "--context", "body")
    assert body["top1"] == 1.0 and face["top1"] < 0.9
    assert body["eer"] < face["eer"]
    assert body["context"]["weights"] == [1.0, 1.0]


def test_classify_with_body_context_enrolls_references_through_the_detector(cli, outfits):
    root, plugin = outfits
    out = cli.json("--plugin-dir", plugin, "classify", "--enroll", root / "enroll.json", "--target-dir", root / "targets",
                   "--detector", "top", "--context", "body", "--encoder", "color_texture", "--threshold", "0")
    assert len(out["matches"]) == 4  # one face per target
    assert all(Path(m["path"]).name.startswith(m["character"]) for m in out["matches"]), out["matches"]
    assert out["index"].endswith(".color_texture.body.faiss")
    # a second run with other weights must not reuse the index built for the first
    again = cli.json("--plugin-dir", plugin, "classify", "--enroll", root / "enroll.json", "--target-dir", root / "targets",
                     "--detector", "top", "--context", "body", "--weights", "1,0.5", "--encoder", "color_texture")
    assert again["index_reused"] is False


def test_similarity_with_body_context(cli, outfits):
    root, plugin = outfits
    base = ["--plugin-dir", plugin, "similarity", "--detector", "top", "--encoder", "color_texture"]
    red, red2, blue = (root / "labelled" / n for n in ("red/red_0.png", "red/red_1.png", "blue/blue_0.png"))
    same = cli.json(*base, red, red2, "--context", "body")
    other = cli.json(*base, red, blue, "--context", "body")
    faces_only = cli.json(*base, red, blue)
    assert same["score"] > other["score"] and other["score"] < faces_only["score"]
    assert other["context"]["context"] == "body"


@pytest.mark.parametrize("args, message", [
    (["--context", "body"], "--context body needs a face detector"),
    (["--context", "body", "--detector", "whole"], "--context body needs a face detector"),
    (["--weights", "1,1"], "--weights needs --context body"),
    (["--context", "body", "--detector", "top", "--weights", "1"], "expected FACE,BODY"),
    (["--context", "body", "--detector", "top", "--weights", "a,b"], "expected FACE,BODY"),
    (["--context", "body", "--detector", "top", "--weights", "0,0"], "not both 0"),
    (["--context", "shirt"], "unknown context 'shirt'; choose one of: face, body"),
])
def test_bad_context_options_fail_with_one_line(cli, outfits, args, message):
    root, plugin = outfits
    result = cli("--plugin-dir", plugin, "cluster", root / "targets", *args, ok=False)
    assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_body_region_sits_below_the_face_and_is_absent_at_the_bottom_edge():
    context = BodyContext()
    assert context.region(Box(40, 10, 60, 30), 100, 100) == Box(30, 30, 70, 70)
    assert context.region(Box(40, 10, 60, 30), 100, 50) == Box(30, 30, 70, 50)  # clipped, still 1 face tall
    assert context.region(Box(40, 75, 60, 95), 100, 100) is None  # 5 px of neck is not an outfit


class FixedEncoder:
    """Embeds an image as the unit vector its colour names: what the fusion does is then exact to check."""

    batch_size, embedding_dim = 2, 3

    def embed(self, images):
        rows = np.array([np.asarray(image, dtype=np.float32)[0, 0] for image in images]).reshape(-1, 3)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_fused_score_is_the_weighted_mean_and_a_missing_body_counts_zero():
    def view(face, body):
        return Image.new("RGB", (2, 2), face), None if body is None else Image.new("RGB", (2, 2), body)

    context = BodyContext(1.0, 2.0)
    a, b, c = context.embed(FixedEncoder(), [view((1, 0, 0), (0, 1, 0)), view((1, 1, 0), (0, 1, 0)), view((1, 0, 0), None)])
    face_ab = 1 / np.sqrt(2)  # cos((1,0,0), (1,1,0))
    assert a @ b == pytest.approx((1 * face_ab + 4 * 1.0) / 5)
    assert a @ c == pytest.approx(1 / 5)  # same face, no body: only the face's share counts
    assert np.linalg.norm(c) == pytest.approx(np.sqrt(1 / 5))
