"""Finding and opening images, with one clear error per bad file."""

from __future__ import annotations

import itertools
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

from PIL import Image, ImageOps, UnidentifiedImageError

from reid.errors import ImageLoadError, ReidError
from reid.progress import Progress

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".avif", ".bmp", ".gif", ".tif", ".tiff"})
MAX_PIXELS_ENV = "REID_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 80_000_000  # an A3 page at 600 dpi is about 70 MP


def max_pixels() -> int:
    value = os.environ.get(MAX_PIXELS_ENV, "")
    return int(value) if value.isdigit() else DEFAULT_MAX_PIXELS


def list_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by extension, sorted); other files are ignored. A link to a missing file is
    listed, so that reading it reports it instead of it vanishing without a word."""
    folder = Path(folder)
    if not folder.exists():
        raise ReidError(f"{folder}: folder does not exist")
    if not folder.is_dir():
        raise ReidError(f"{folder}: is a file, not a folder of images")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern)
                  if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or (p.is_symlink() and not p.exists())))


def require_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    paths = list_images(folder, recursive=recursive)
    if not paths:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        raise ReidError(f"{folder}: no images found (looked for {suffixes}); point to a folder that holds images")
    return paths


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open ``path`` as an RGB image; transparency is flattened onto white, EXIF rotation applied."""
    path = Path(path)
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise _too_large(path, width, height, limit)
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except ImageLoadError:
        raise
    except FileNotFoundError:
        if path.is_symlink():
            raise ImageLoadError(path, f"a link to {os.readlink(path)}, which does not exist; fix or remove the link") from None
        raise ImageLoadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageLoadError(path, "is a folder, not an image") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied; check the file's permissions") from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not an image Pillow can read (corrupt, or another file type); remove or re-export it") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(path, f"image is too large to open safely (over {limit:,} pixels); downscale it or raise ${MAX_PIXELS_ENV}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports truncated and malformed data as OSError/SyntaxError with varied messages.
        raise ImageLoadError(path, f"truncated or corrupt image data ({exc}); re-export or re-download it") from None


def _too_large(path: Path, width: int, height: int, limit: int) -> ImageLoadError:
    return ImageLoadError(
        path, f"image is {width}x{height} ({width * height:,} pixels), over the {limit:,}-pixel limit; downscale it or raise ${MAX_PIXELS_ENV}"
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


DECODE_AHEAD = 4  # images decoded ahead of the network, by a thread pool (Pillow's decoders release the GIL)


def readable_images(paths: Sequence[Path], failures: list[ImageLoadError],
                    progress: Progress) -> Iterator[tuple[Path, Image.Image]]:
    """(path, image) for each file that opens, in order; the others go to ``failures``. Files are decoded by a
    few threads while the caller works on earlier images. Progress advances once the caller has finished with
    an image."""
    with ThreadPoolExecutor(max_workers=min(DECODE_AHEAD, os.cpu_count() or 1), thread_name_prefix="reid-decode") as pool:
        queue: deque = deque()
        pending = iter(paths)
        for path in itertools.islice(pending, DECODE_AHEAD):
            queue.append((path, pool.submit(load_image, path)))
        try:
            while queue:
                path, decoding = queue.popleft()
                for following in itertools.islice(pending, 1):
                    queue.append((following, pool.submit(load_image, following)))
                try:
                    image = decoding.result()
                except ImageLoadError as exc:
                    failures.append(exc)
                else:
                    yield Path(path), image
                progress.advance(1)
        finally:
            for _, decoding in queue:  # stopped early (an error, an interrupt): nothing more to decode
                decoding.cancel()
