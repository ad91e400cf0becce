"""evaluate and cluster on awkward folders: one image per character, byte-identical copies."""

import json
import shutil

from reid.io.inputs import identical_files


def one_per_character(data, root):
    for character in ("Aoi", "Beni", "Kiiro"):
        (root / character).mkdir(parents=True)
        shutil.copy(sorted((data / "references" / character).iterdir())[0], root / character)
    return root


def test_evaluate_with_one_image_per_character_says_what_it_cannot_compute(cli, data, tmp_path):
    folder = one_per_character(data, tmp_path / "one")
    found = cli.json("evaluate", folder, "--encoder", "color_texture", "--runs", "1")
    assert found["top1"] is None and found["eer"] is None and found["best_f1"] is None
    assert set(found["not_computed"]) == {"top1", "eer", "f1_at_threshold", "best_f1"}
    assert "no same-character pair" in found["not_computed"]["eer"] and "ami" in found["clustering"]
    shown = cli("evaluate", folder, "--encoder", "color_texture", "--runs", "1", "--report", tmp_path / "r.html")
    assert "not computed" in shown.stdout and "Traceback" not in shown.stderr
    assert "EER point" not in (tmp_path / "r.html").read_text()


def test_byte_identical_images_are_reported_as_copies(cli, data, tmp_path):
    folder = tmp_path / "copies"
    folder.mkdir()
    first = sorted((data / "targets").iterdir())[0]
    for k in range(6):
        shutil.copy(first, folder / f"copy_{k}.png")
    for other in sorted((data / "targets").iterdir())[1:6]:
        shutil.copy(other, folder)
    result = cli("cluster", folder, "--encoder", "color_texture")
    assert result.stderr.count("byte-identical") == 1 and "copy_0.png is byte-identical to" in result.stderr
    found = json.loads(cli("cluster", folder, "--encoder", "color_texture", "--json").stdout)
    assert [len(group) for group in found["copies"]] == [6]


def test_identical_files_reads_only_files_that_share_a_size(tmp_path):
    (tmp_path / "a").write_bytes(b"same")
    (tmp_path / "b").write_bytes(b"same")
    (tmp_path / "c").write_bytes(b"diff")
    (tmp_path / "d").write_bytes(b"longer")
    paths = [tmp_path / n for n in "abcda"]
    assert identical_files(paths) == [[tmp_path / "a", tmp_path / "b"]]
