import pytest
from PIL import Image

from reid.errors import ImageLoadError, ReidError
from reid.io.images import list_images, load_image, require_images


def png(path, size=(32, 32), mode="RGB", colour=(200, 10, 10)):
    Image.new(mode, size, colour).save(path)
    return path


def test_list_images_ignores_other_files_and_sorts(tmp_path):
    png(tmp_path / "b.png"), png(tmp_path / "a.PNG")
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.PNG", "b.png"]


def test_missing_empty_and_file_folders(tmp_path):
    with pytest.raises(ReidError, match="folder does not exist"):
        list_images(tmp_path / "nope")
    with pytest.raises(ReidError, match="no images found"):
        require_images(tmp_path)
    with pytest.raises(ReidError, match="is a file, not a folder"):
        list_images(png(tmp_path / "x.png"))


def test_corrupt_truncated_and_non_image_files_name_the_file(tmp_path):
    (tmp_path / "random.png").write_bytes(b"\x00\x01garbage" * 50)
    full = png(tmp_path / "full.png", size=(256, 256), colour=(1, 2, 3)).read_bytes()
    (tmp_path / "truncated.png").write_bytes(full[: len(full) // 2])
    (tmp_path / "text.jpg").write_text("this is not a picture")
    for name, reason in [("random.png", "not an image"), ("truncated.png", "truncated or corrupt"), ("text.jpg", "not an image")]:
        with pytest.raises(ImageLoadError, match=reason) as info:
            load_image(tmp_path / name)
        assert str(info.value).startswith(str(tmp_path / name))


def test_huge_image_is_refused_before_decoding(tmp_path, monkeypatch):
    path = png(tmp_path / "big.png", size=(400, 300))
    monkeypatch.setenv("REID_MAX_PIXELS", "100000")
    with pytest.raises(ImageLoadError, match=r"image is 400x300 \(120,000 pixels\), over the 100,000-pixel limit"):
        load_image(path)


def test_transparency_is_flattened_on_white(tmp_path):
    image = load_image(png(tmp_path / "clear.png", mode="RGBA", colour=(255, 0, 0, 0)))
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)


def test_avif_files_are_read_and_a_dangling_link_is_reported_not_dropped(tmp_path):
    from reid.io.images import readable_images
    from reid.progress import NoProgress

    Image.new("RGB", (16, 16), (200, 10, 10)).save(tmp_path / "a.png")
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    try:
        Image.new("RGB", (16, 16), (10, 200, 10)).save(tmp_path / "b.avif")
    except (KeyError, OSError):  # a Pillow built without AVIF: the file is still listed, and reported when read
        (tmp_path / "b.avif").write_bytes(b"\x00\x00\x00\x1cftypavif")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.avif", "gone.png"]
    failures = []
    read = [p.name for p, _ in readable_images(list_images(tmp_path), failures, NoProgress())]
    assert "a.png" in read and [f.path.name for f in failures if "link" in f.reason] == ["gone.png"]
    assert "nowhere.png, which does not exist" in str(failures[-1])
