"""Grey and screentone training views, grey evaluation, best F1, flip test-time augmentation."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from reid.search import metrics
from reid.models.embedding import embed_paths
from reid.models.encoders import load_encoder
from reid.io.images import list_images
from reid.training.augment import MonochromeViews, grayscale, screentone


def colour_tensor(size: int = 48) -> torch.Tensor:
    ramp = torch.linspace(0, 255, size)
    return torch.stack([ramp.expand(size, size), ramp.expand(size, size).T, torch.full((size, size), 90.0)]).to(torch.uint8)


def test_grayscale_matches_pillow_and_fills_three_channels():
    image = colour_tensor()
    grey = grayscale(image)
    assert grey.dtype == torch.uint8 and grey.shape == image.shape
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    pil = np.asarray(ImageOps.grayscale(Image.fromarray(image.permute(1, 2, 0).numpy())), dtype=np.int16)
    assert np.abs(grey[0].numpy().astype(np.int16) - pil).max() <= 1


def test_screentone_keeps_ink_and_paper_and_dots_the_midtones():
    grey_levels = torch.tensor([10.0, 128.0, 250.0]).repeat_interleave(32).expand(96, 96).T.contiguous()
    image = grey_levels.to(torch.uint8).expand(3, -1, -1).clone()
    toned = screentone(image, pitch=4.0, angle=0.3)
    assert set(toned.unique().tolist()) <= {0, 255}
    ink, mid, paper = toned[0, :32].float(), toned[0, 32:64].float(), toned[0, 64:].float()
    assert ink.max() == 0 and paper.min() == 255
    assert 0.2 < (mid / 255).mean() < 0.8  # a mid-grey becomes about half black dots


def test_monochrome_views_are_drawn_at_the_asked_rate():
    image = colour_tensor()
    assert torch.equal(MonochromeViews(0.0)(image), image)
    torch.manual_seed(0)
    views = [MonochromeViews(1.0, tone_share=0.5)(image) for _ in range(40)]
    assert all(torch.equal(v[0], v[2]) for v in views)
    toned = sum(set(v.unique().tolist()) <= {0, 255} for v in views)
    assert 10 <= toned <= 30
    with pytest.raises(ValueError):
        MonochromeViews(1.5)


def test_best_f1_is_the_highest_over_all_thresholds():
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.75])
    same = np.array([True, True, True, False, False, False])
    best = metrics.best_f1(scores, same)  # at 0.7 all three same pairs pass and one different pair does
    assert best == pytest.approx({"f1": 6 / 7, "threshold": 0.7, "precision": 0.75, "recall": 1.0})
    assert best["f1"] > metrics.verification_at(scores, same, 0.85)["f1"]


def test_grayscale_embedding_sees_grey_images(dataset):
    encoder = load_encoder("color_texture")
    paths = list_images(dataset / "references" / "Aoi")[:3]
    grey = embed_paths(encoder, paths, grayscale=True).vectors
    converted = encoder.embed([ImageOps.grayscale(Image.open(p).convert("RGB")).convert("RGB") for p in paths])
    np.testing.assert_allclose(grey, converted, atol=1e-6)
    assert not np.allclose(grey, embed_paths(encoder, paths).vectors, atol=1e-3)


def test_evaluate_gray_and_best_f1_in_the_json(cli, dataset):
    colour = cli.json("evaluate", dataset / "references", "--runs", "1", "--encoder", "color_texture")
    grey = cli.json("evaluate", dataset / "references", "--runs", "1", "--encoder", "color_texture", "--gray")
    assert colour["grayscale"] is False and grey["grayscale"] is True
    for result in (colour, grey):
        assert result["best_f1"]["f1"] >= result["f1_at_threshold"] - 1e-9
        assert {"f1", "threshold", "precision", "recall"} <= set(result["best_f1"])
    assert grey["top1"] != colour["top1"] or grey["eer"] != colour["eer"]
    table = cli("evaluate", dataset / "references", "--runs", "1", "--encoder", "color_texture", "--gray").stdout
    assert "(grey)" in table and "best F1" in table


class Asymmetric(torch.nn.Module):
    """Features that change when the image is mirrored: the left half's mean and the right half's."""

    def forward(self, x):
        half = x.shape[-1] // 2
        return torch.cat([x[..., :half].mean(dim=(2, 3)), x[..., half:].mean(dim=(2, 3))], dim=1)


def test_flip_test_time_augmentation_makes_an_image_and_its_mirror_alike():
    from reid.models.encoders.base import TorchEncoder

    image = Image.fromarray(colour_tensor(32).permute(1, 2, 0).numpy())
    mirror = ImageOps.mirror(image)
    plain = TorchEncoder(Asymmetric(), device="cpu")
    plain.input_size = 32
    flipped = TorchEncoder(Asymmetric(), device="cpu", flip=True)
    flipped.input_size = 32
    a, b = plain.embed([image, mirror])
    assert float(a @ b) < 0.999
    a, b = flipped.embed([image, mirror])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)
    assert flipped.identity()["flip"] is True and "flip" not in plain.identity()
