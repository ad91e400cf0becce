"""Pages to train a face detector on, where the truth is known: face crops pasted at known places.

Real illustrations with boxes around every face are not available offline, but face crops are. A page is
a face-free background with crops pasted on it at sizes from tiny to most of the page, some of them cut by
the page edge, with two kinds of look-alikes that carry no box, so the detector cannot learn a shortcut:
the pasted crop's outline (faces are often pasted with feathered edges, and scrambled crops are pasted the
same way) and anime colours (backgrounds are sometimes made of scrambled crops). A share of the pages is
grey or screentoned, as manga is.

A crop's face box is where a face detector found it in the crop (``face_box``) or, where none did, the
place faces usually take in such crops; the page's boxes are those face boxes, not the crops.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from reid.models.detectors.base import Box

#: Face box in a crop (left, top, right, bottom as shares of its width and height).
Relative = tuple[float, float, float, float]


@dataclass(frozen=True)
class PageStyle:
    size: int = 384
    max_faces: int = 5
    min_face: int = 14  # pixels, face box width
    max_face_share: float = 0.8  # of the page's side
    empty_share: float = 0.08  # pages without a face
    grey_share: float = 0.25
    min_visible: float = 0.6  # of a face box inside the page


def face_box(crop: Image.Image, find: Callable[[Image.Image], list[Box]]) -> Relative | None:
    """The crop's face box (the best ``find`` returns, relative to the crop), or None where it finds none."""
    boxes = find(crop)
    if not boxes:
        return None
    b = boxes[0]
    return b.left / crop.width, b.top / crop.height, b.right / crop.width, b.bottom / crop.height


def typical_box(found: Sequence[Relative | None]) -> Relative:
    """The median face box of the crops where one was found; a centred 0.65 square when none was."""
    known = np.array([box for box in found if box is not None], dtype=np.float64)
    if not len(known):
        return (0.175, 0.175, 0.825, 0.825)
    return tuple(float(v) for v in np.median(known, axis=0))  # type: ignore[return-value]


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randint(0, 255) for _ in range(3))  # type: ignore[return-value]


def scramble(crop: Image.Image, rng: random.Random, grid: int = 4) -> Image.Image:
    """The crop's tiles shuffled and flipped: its colours, strokes and outline, no face."""
    w, h = crop.size
    tw, th = max(1, w // grid), max(1, h // grid)
    tiles = [crop.crop((x * tw, y * th, (x + 1) * tw, (y + 1) * th)) for y in range(grid) for x in range(grid)]
    rng.shuffle(tiles)
    out = Image.new("RGB", (tw * grid, th * grid))
    for i, tile in enumerate(tiles):
        if rng.random() < 0.5:
            tile = tile.transpose(rng.choice([Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM,
                                              Image.Transpose.ROTATE_90]))
        out.paste(tile.resize((tw, th)), ((i % grid) * tw, (i // grid) * th))
    return out


def background(size: int, rng: random.Random, crops: Sequence[Image.Image]) -> Image.Image:
    """A face-free page: gradient and shapes, ink lines on paper, or a texture of scrambled crops."""
    kind = rng.random()
    if kind < 0.3 and crops:
        page = scramble(rng.choice(crops), rng, grid=rng.choice([3, 4, 6])).resize((size, size), Image.Resampling.BILINEAR)
        return page.filter(ImageFilter.GaussianBlur(rng.uniform(0, 3)))
    a, b = np.array(_colour(rng), dtype=np.float32), np.array(_colour(rng), dtype=np.float32)
    t = np.linspace(0, 1, size, dtype=np.float32)
    t = t[None, :, None] if rng.random() < 0.5 else t[:, None, None]
    page = Image.fromarray(np.broadcast_to(a + (b - a) * t, (size, size, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(page)
    if kind < 0.65:  # shapes
        for _ in range(rng.randint(2, 10)):
            x, y, r = rng.randint(0, size), rng.randint(0, size), rng.randint(8, size // 2)
            points = [(x + r * math.cos(a) * rng.uniform(0.5, 1), y + r * math.sin(a) * rng.uniform(0.5, 1))
                      for a in sorted(rng.uniform(0, 2 * math.pi) for _ in range(rng.randint(3, 8)))]
            draw.polygon(points, fill=_colour(rng))
        page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0, 6)))
    else:  # ink strokes, as in line art and manga panels
        ink = (0, 0, 0) if rng.random() < 0.7 else _colour(rng)
        for _ in range(rng.randint(5, 40)):
            points = [(rng.randint(0, size), rng.randint(0, size)) for _ in range(rng.randint(2, 5))]
            draw.line(points, fill=ink, width=rng.randint(1, 5), joint="curve")
        for _ in range(rng.randint(0, 4)):
            x0, y0 = rng.randint(0, size), rng.randint(0, size)
            draw.rectangle([x0, y0, x0 + rng.randint(20, size), y0 + rng.randint(20, size)], outline=(0, 0, 0),
                           width=rng.randint(2, 6))
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(0, 10), (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(page, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def _mask(size: tuple[int, int], rng: random.Random) -> Image.Image | None:
    """None (a hard rectangle) or a feathered rounded rectangle / ellipse."""
    if rng.random() < 0.3:
        return None
    w, h = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    inset = rng.uniform(0.0, 0.12)
    shape = [w * inset, h * inset, w * (1 - inset), h * (1 - inset)]
    if rng.random() < 0.5:
        draw.ellipse(shape, fill=255)
    else:
        draw.rounded_rectangle(shape, radius=min(w, h) * rng.uniform(0.05, 0.4), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(max(w, h) * rng.uniform(0.01, 0.06)))


def _place(page: Image.Image, item: Image.Image, rng: random.Random, face: Relative | None, style: PageStyle,
           taken: list[Box]) -> Box | None:
    """Paste ``item`` where it overlaps no other, with its face (when given) mostly inside the page."""
    w, h = item.size
    for _ in range(20):
        slack = 0.5 if face is None else 0.0
        x = rng.randint(-int(w * slack) - w // 3, style.size - w + w // 3 + int(w * slack))
        y = rng.randint(-int(h * slack) - h // 3, style.size - h + h // 3 + int(h * slack))
        spot = Box(x, y, x + w, y + h)
        if any(spot.intersection(other) > 0.1 * min(spot.area, other.area) for other in taken):
            continue
        box = spot
        if face is not None:
            box = Box(round(x + face[0] * w), round(y + face[1] * h), round(x + face[2] * w), round(y + face[3] * h))
            clipped = Box(max(0, box.left), max(0, box.top), min(style.size, box.right), min(style.size, box.bottom))
            if clipped.right <= clipped.left or clipped.bottom <= clipped.top or \
                    clipped.area < style.min_visible * box.area:
                continue
            box = clipped
        page.paste(item, (x, y), _mask(item.size, rng))
        taken.append(spot)
        return box
    return None


def _finish(page: Image.Image, rng: random.Random, style: PageStyle) -> Image.Image:
    """Grey or screentone for manga, a little blur, JPEG artefacts."""
    if rng.random() < style.grey_share:
        grey = ImageOps.grayscale(page)
        if rng.random() < 0.4:
            grey = ImageOps.autocontrast(grey).point(lambda v: 0 if v < 60 else (255 if v > 200 else v))
        page = grey.convert("RGB")
    if rng.random() < 0.3:
        page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        page.save(buffer, format="JPEG", quality=rng.randint(35, 95))
        page = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return page


def compose_page(crops: Sequence[Image.Image], faces: Sequence[Relative], rng: random.Random,
                 style: PageStyle = PageStyle()) -> tuple[Image.Image, list[Box]]:
    """A page and the face boxes on it. ``faces[i]`` is the face box inside ``crops[i]``."""
    page = background(style.size, rng, crops)
    boxes: list[Box] = []
    taken: list[Box] = []
    n_faces = 0 if rng.random() < style.empty_share else rng.randint(1, style.max_faces)
    for _ in range(n_faces):
        i = rng.randrange(len(crops))
        crop, face = crops[i], faces[i]
        # face widths spread evenly on a log scale: small faces are as common as large ones
        width = math.exp(rng.uniform(math.log(style.min_face), math.log(style.size * style.max_face_share)))
        scale = width / max(1.0, (face[2] - face[0]) * crop.width)
        if rng.random() < 0.5:
            crop, face = ImageOps.mirror(crop), (1 - face[2], face[1], 1 - face[0], face[3])
        resized = crop.resize((max(2, round(crop.width * scale)), max(2, round(crop.height * scale))),
                              Image.Resampling.BILINEAR)
        box = _place(page, resized, rng, face, style, taken)
        if box is not None:
            boxes.append(box)
    for _ in range(rng.randint(0, 3)):  # look-alikes: pasted like faces, no face in them
        fake = scramble(rng.choice(crops), rng)
        side = math.exp(rng.uniform(math.log(style.min_face * 1.5), math.log(style.size * 0.6)))
        fake = fake.resize((max(2, round(side)), max(2, round(side * rng.uniform(0.7, 1.4)))), Image.Resampling.BILINEAR)
        _place(page, fake, rng, None, style, taken)
    return _finish(page, rng, style), boxes


def artwork_page(image: Image.Image, faces: Sequence[Box], rng: random.Random,
                 style: PageStyle = PageStyle()) -> tuple[Image.Image, list[Box]] | None:
    """A page cut from a real illustration at a random scale and place, with the faces found in it: bodies,
    clothes and scenery are the negatives composites lack. None when every cut splits a face in two."""
    for _ in range(10):
        scale = rng.uniform(1.0, 2.5) * style.size / max(image.size)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        left, top = rng.randint(min(0, width - style.size), max(0, width - style.size)), \
            rng.randint(min(0, height - style.size), max(0, height - style.size))
        boxes, split = [], False
        for face in faces:
            box = Box(round(face.left * scale) - left, round(face.top * scale) - top,
                      round(face.right * scale) - left, round(face.bottom * scale) - top)
            clipped = Box(max(0, box.left), max(0, box.top), min(style.size, box.right), min(style.size, box.bottom))
            visible = clipped.area / max(1, box.area)
            if visible >= style.min_visible:
                boxes.append(clipped)
            elif visible > 0:
                split = True
        if split:
            continue
        page = Image.new("RGB", (style.size, style.size), _colour(rng))
        page.paste(image.resize((width, height), Image.Resampling.BILINEAR), (-left, -top))
        return _finish(page, rng, style), boxes
    return None
