"""reid dataset manga109 on a small tree in Manga109's exact layout (books.txt, annotations/<title>.xml,
images/<title>/NNN.jpg) drawn by the test, then evaluate --per-title on what it cut."""

import json
import random
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from reid.io.synthetic import CHARACTERS, draw_character

BY_NAME = {c.name: c for c in CHARACTERS}
TITLES = {"AisazuNihaIrarenai": {"Aoi": 10, "Beni": 10, "Kiiro": 3},
          "ARMS": {"Kiiro": 10, "Midori": 10, "Shiro": 2}}
FACE, PER_PAGE = 56, 4


def write_manga109(root: Path) -> None:
    rng = random.Random(3)
    (root / "annotations").mkdir(parents=True)
    (root / "books.txt").write_text("".join(f"{t}\n" for t in TITLES))
    for title, cast in TITLES.items():
        ids = {name: f"{k:08x}" for k, name in enumerate(cast, start=1)}
        faces = [name for name, n in cast.items() for _ in range(n)]
        rng.shuffle(faces)
        pages, face_id = [], 0
        for index in range(0, len(faces), PER_PAGE):
            page = Image.new("RGB", (PER_PAGE * 70 + 20, 200), "white")
            boxes = []
            for k, name in enumerate(faces[index:index + PER_PAGE]):
                x, y = 10 + 70 * k, rng.randint(10, 130)
                page.paste(draw_character(BY_NAME[name], rng, FACE), (x, y))
                face_id += 1
                boxes.append(f'<face id="{face_id:08x}" xmin="{x}" ymin="{y}" xmax="{x + FACE}" ymax="{y + FACE}" '
                             f'character="{ids[name]}"/>')
            number = index // PER_PAGE
            path = root / "images" / title / f"{number:03d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            ImageOps.grayscale(page).save(path, quality=95)  # manga: black and white
            pages.append(f'<page index="{number}" width="{page.width}" height="{page.height}">'
                         f'<frame id="f{number}" xmin="0" ymin="0" xmax="{page.width}" ymax="{page.height}"/>'
                         + "".join(boxes) + f'<text id="t{number}" xmin="1" ymin="1" xmax="9" ymax="9">セリフ</text></page>')
        characters = "".join(f'<character id="{i}" name="{name}"/>' for name, i in ids.items())
        (root / "annotations" / f"{title}.xml").write_text(
            f'<?xml version="1.0" encoding="utf-8"?><book title="{title}"><characters>{characters}</characters>'
            f'<pages>{"".join(pages)}</pages></book>', encoding="utf-8")


@pytest.fixture
def manga(tmp_path) -> Path:
    write_manga109(tmp_path / "Manga109")
    return tmp_path / "Manga109"


def test_cut_faces_per_title_with_other(manga, cli, tmp_path):
    out = tmp_path / "faces"
    report = cli.json("dataset", "manga109", manga, "--out", out)
    assert report["titles"] == {"AisazuNihaIrarenai": {"Aoi": 10, "Beni": 10, "other": 3},
                                "ARMS": {"Kiiro": 10, "Midori": 10, "other": 2}}
    crop = Image.open(next((out / "ARMS" / "Kiiro").iterdir()))
    assert crop.size == (FACE, FACE) and crop.mode == "L"
    assert json.loads((out / "manga109.json").read_text())["faces"] == 45

    (tmp_path / "eval.txt").write_text("# a split file\nARMS\n\n")
    only = cli.json("dataset", "manga109", manga, "--out", tmp_path / "arms", "--titles", tmp_path / "eval.txt")
    assert list(only["titles"]) == ["ARMS"]


def test_evaluate_per_title(manga, cli, tmp_path):
    out = tmp_path / "faces"
    cli("dataset", "manga109", manga, "--out", out, "--min-faces", "5")
    report = cli.json("evaluate", out, "--per-title", "--runs", "1", "--umap-dim", "0", "--min-cluster-size", "3")
    assert set(report["titles"]) == {"AisazuNihaIrarenai", "ARMS"}
    for title, metrics in report["per_title"].items():
        assert 0 <= metrics["ami"] <= 1 and report["titles"][title]["characters"] == 3
    assert report["mean"]["top1"] == pytest.approx(sum(m["top1"] for m in report["per_title"].values()) / 2)
    text = cli("evaluate", out, "--per-title", "--runs", "1", "--umap-dim", "0").stdout
    assert "mean" in text and "AMI" in text and "ARMS" in text


def test_bad_manga109_inputs(manga, cli, tmp_path):
    for args, reason in [
        ((tmp_path / "nowhere", "--out", tmp_path / "o1"), "not a Manga109 folder"),
        ((manga, "--out", tmp_path / "o2", "--titles", tmp_path / "missing.txt"), "cannot read the titles file"),
    ]:
        result = cli("dataset", "manga109", *args, ok=False)
        assert result.exit_code != 0 and reason in result.stderr
    (tmp_path / "t.txt").write_text("NoSuchTitle\n")
    result = cli("dataset", "manga109", manga, "--out", tmp_path / "o3", "--titles", tmp_path / "t.txt", ok=False)
    assert "no title 'NoSuchTitle'" in result.stderr and not (tmp_path / "o3").exists()
    (manga / "annotations" / "ARMS.xml").write_text("<book")
    result = cli("dataset", "manga109", manga, "--out", tmp_path / "o4", ok=False)
    assert "ARMS.xml: unreadable" in result.stderr and not (tmp_path / "o4").exists()
    assert "--report" in cli("evaluate", manga, "--per-title", "--report", tmp_path / "r.html", ok=False).stderr
