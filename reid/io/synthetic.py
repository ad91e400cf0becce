"""Drawn anime-style characters (hair, eyes, accessory colours), for the demo and the tests.

Every character has a fixed palette and hair style; each drawing varies pose, size, background
and shading, so the images are distinct but recognisably the same character.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from reid.io.files import save_image_atomic, write_json_atomic


@dataclass(frozen=True)
class Character:
    name: str
    hair: tuple[int, int, int]
    eyes: tuple[int, int, int]
    accessory: tuple[int, int, int]
    style: str  # "long", "short" or "twintails"


CHARACTERS = (
    Character("Aoi", (40, 90, 200), (30, 160, 220), (250, 250, 250), "long"),
    Character("Beni", (200, 40, 50), (230, 150, 20), (30, 30, 30), "twintails"),
    Character("Kiiro", (240, 210, 60), (60, 170, 80), (220, 60, 140), "short"),
    Character("Midori", (50, 150, 90), (150, 60, 190), (240, 200, 40), "long"),
    Character("Shiro", (235, 235, 240), (200, 30, 40), (60, 90, 200), "short"),
    Character("Kuro", (35, 30, 40), (120, 80, 40), (200, 40, 50), "twintails"),
)
SKIN = (252, 226, 206)


def _jitter(colour, rng: random.Random, amount: int = 14) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)


def draw_character(character: Character, rng: random.Random, size: int = 128) -> Image.Image:
    scale = 4  # draw large and downsample: smooth edges like real line art
    s = size * scale
    background = tuple(rng.randint(150, 255) for _ in range(3))
    image = Image.new("RGB", (s, s), background)
    draw = ImageDraw.Draw(image)
    cx = s / 2 + rng.uniform(-0.06, 0.06) * s
    cy = s / 2 + rng.uniform(-0.04, 0.06) * s
    r = s * rng.uniform(0.27, 0.33)
    hair, eyes = _jitter(character.hair, rng), _jitter(character.eyes, rng)
    outline = (40, 30, 30)
    if character.style == "long":
        draw.rounded_rectangle([cx - 1.25 * r, cy - 1.1 * r, cx + 1.25 * r, cy + 1.9 * r], radius=r * 0.6, fill=hair)
    if character.style == "twintails":
        for side in (-1, 1):
            draw.ellipse([cx + side * 1.35 * r - 0.45 * r, cy - 0.2 * r, cx + side * 1.35 * r + 0.45 * r, cy + 1.6 * r], fill=hair, outline=outline)
    draw.ellipse([cx - r, cy - r * 0.95, cx + r, cy + r * 1.1], fill=SKIN, outline=outline, width=scale)
    draw.chord([cx - 1.1 * r, cy - 1.25 * r, cx + 1.1 * r, cy + 0.55 * r], 180, 360, fill=hair, outline=outline)
    for k in range(5):  # bangs
        x = cx - r + (k + 0.5) * (2 * r / 5)
        draw.polygon([(x - r * 0.22, cy - 0.4 * r), (x + r * 0.22, cy - 0.4 * r), (x, cy - 0.05 * r)], fill=hair)
    for side in (-1, 1):
        ex, ey = cx + side * 0.42 * r, cy + 0.25 * r
        draw.ellipse([ex - 0.2 * r, ey - 0.26 * r, ex + 0.2 * r, ey + 0.26 * r], fill="white", outline=outline, width=scale)
        draw.ellipse([ex - 0.15 * r, ey - 0.2 * r, ex + 0.15 * r, ey + 0.22 * r], fill=eyes)
        draw.ellipse([ex - 0.05 * r, ey - 0.14 * r, ex + 0.03 * r, ey - 0.04 * r], fill="white")
    draw.arc([cx - 0.15 * r, cy + 0.6 * r, cx + 0.15 * r, cy + 0.75 * r], 20, 160, fill=outline, width=scale)
    acc = _jitter(character.accessory, rng)
    ax = cx + rng.choice((-1, 1)) * 0.7 * r
    draw.polygon([(ax, cy - 0.9 * r), (ax - 0.35 * r, cy - 1.2 * r), (ax - 0.35 * r, cy - 0.6 * r)], fill=acc, outline=outline)
    draw.polygon([(ax, cy - 0.9 * r), (ax + 0.35 * r, cy - 1.2 * r), (ax + 0.35 * r, cy - 0.6 * r)], fill=acc, outline=outline)
    image = image.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC, fillcolor=background)
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.6)))


def write_dataset(root: Path, *, characters: int = 4, per_character: int = 12, size: int = 128, seed: int = 0) -> dict:
    """``root/references/<name>/``, ``root/targets/`` (as many per character, plus one never enrolled), ``root/enroll.json``."""
    if not 2 <= characters < len(CHARACTERS):
        raise ValueError(f"characters must be between 2 and {len(CHARACTERS) - 1}")
    rng = random.Random(seed)
    enrolled, stranger = CHARACTERS[:characters], CHARACTERS[characters]
    for character in enrolled:
        for i in range(per_character):
            save_image_atomic(draw_character(character, rng, size), root / "references" / character.name / f"{character.name.lower()}_{i:03d}.png")
    targets = [(c, i) for c in (*enrolled, stranger) for i in range(per_character)]
    rng.shuffle(targets)
    for n, (character, _) in enumerate(targets):
        save_image_atomic(draw_character(character, rng, size), root / "targets" / f"target_{n:03d}.png")
    enrollment = {c.name: f"references/{c.name}" for c in enrolled}
    write_json_atomic(root / "enroll.json", enrollment)
    truth = {f"target_{n:03d}.png": c.name if c in enrolled else "unknown" for n, (c, _) in enumerate(targets)}
    write_json_atomic(root / "targets_truth.json", truth)
    return truth


#: a drawn video's shots: (who is on screen, seconds); None is an empty background
DEMO_SHOTS = (("Aoi", 2.0), ("Beni", 1.5), (None, 1.0), ("Aoi", 2.0), ("Kiiro", 1.5), ("Beni", 2.0), ("Kiiro", 1.0),
              ("Aoi", 1.5), (None, 0.5), ("Kiiro", 2.0), ("Beni", 1.0), ("Aoi", 1.0))


def write_video(path: Path, shots=DEMO_SHOTS, *, fps: int = 10, size: int = 160, seed: int = 0) -> list[tuple[float, float, str | None]]:
    """An MPEG-4 video of drawn characters, one per shot: each shot holds one drawing that drifts a little from
    frame to frame (neighbouring frames are near-duplicates) on its own background, so every shot change is a cut.
    Returns (start, end, character) per shot."""
    import av
    import numpy as np

    by_name = {c.name: c for c in CHARACTERS}
    rng = random.Random(seed)
    truth, start = [], 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        stream.bit_rate = 2_000_000
        for name, seconds in shots:
            base = (draw_character(by_name[name], rng, size) if name else
                    Image.new("RGB", (size, size), tuple(rng.randint(40, 220) for _ in range(3))))
            n = round(seconds * fps)
            for k in range(n):
                shift = round(3 * k / max(1, n - 1))  # a slow pan
                frame = base.transform(base.size, Image.Transform.AFFINE, (1, 0, shift - 1, 0, 1, 0), fillcolor=base.getpixel((0, 0)))
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")):
                    container.mux(packet)
            truth.append((start, start + n / fps, name))
            start += n / fps
        for packet in stream.encode():
            container.mux(packet)
    return truth
