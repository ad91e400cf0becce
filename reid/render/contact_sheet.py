"""A PNG grid of thumbnails, to see at a glance who ended up in a cluster."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PIL import Image, ImageDraw

from reid.errors import ImageLoadError
from reid.io.images import load_image


def contact_sheet(paths: Sequence[Any], title: str, *, thumb: int = 96, columns: int = 8,
                  max_images: int = 64, total: int | None = None,
                  load: Callable[[Any], Image.Image] = load_image) -> Image.Image:
    """``paths`` are image files, or anything ``load`` turns into an image (a face cut from a file). ``total``:
    the size of the group when ``paths`` is a sample of it (shown most typical first)."""
    shown = list(paths)[:max_images]
    total = len(paths) if total is None else total
    columns = max(1, min(columns, len(shown)))
    rows = max(1, -(-len(shown) // columns))
    header = 24
    sheet = Image.new("RGB", (max(columns * thumb, 320), header + rows * thumb), "white")
    draw = ImageDraw.Draw(sheet)
    more = f" ({len(shown)} shown, most typical to least)" if total > len(shown) else ""
    draw.text((6, 6), f"{title}: {total} faces{more}", fill="black")
    for i, path in enumerate(shown):
        x, y = (i % columns) * thumb, header + (i // columns) * thumb
        try:
            image = load(path)
        except ImageLoadError:
            draw.rectangle([x + 2, y + 2, x + thumb - 3, y + thumb - 3], outline="red")
            continue
        image.thumbnail((thumb - 4, thumb - 4))
        sheet.paste(image, (x + (thumb - image.width) // 2, y + (thumb - image.height) // 2))
    return sheet


def overview(strips: Sequence[Image.Image]) -> Image.Image:
    """Strips (one per cluster) stacked top to bottom on one sheet."""
    width = max((strip.width for strip in strips), default=1)
    sheet = Image.new("RGB", (width, max(1, sum(strip.height for strip in strips))), "white")
    y = 0
    for strip in strips:
        sheet.paste(strip, (0, y))
        y += strip.height
    return sheet
