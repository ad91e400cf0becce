"""The training curve as a PNG, drawn with Pillow (no plotting library needed): the loss per epoch and,
when there is a held-out split, its EER (each on its own scale, labelled at the left and right)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from reid.io.files import save_image_atomic

WIDTH, HEIGHT, MARGIN = 640, 360, 48
SERIES = (("loss", (200, 40, 40)), ("val_eer", (40, 90, 200)))


def draw_loss_curve(records: list[dict], path: Path, *, title: str = "") -> Path:
    """An empty log gives an empty, labelled frame."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = MARGIN, MARGIN // 2, WIDTH - MARGIN, HEIGHT - MARGIN
    draw.rectangle((left, top, right, bottom), outline="black")
    epochs = [r["epoch"] for r in records if "epoch" in r]
    first, last = (min(epochs), max(epochs)) if epochs else (0, 1)
    legend = [title]
    for side, (key, colour) in enumerate(SERIES):
        points = [(r["epoch"], r[key]) for r in records if key in r and "epoch" in r]
        if not points:
            continue
        legend.append(key)
        lo, hi = min(v for _, v in points), max(v for _, v in points)
        span = (hi - lo) or 1.0

        def xy(epoch, value):
            return (left + (right - left) * (epoch - first) / ((last - first) or 1),
                    bottom - (bottom - top) * (value - lo) / span)

        draw.line([xy(e, v) for e, v in points], fill=colour, width=2)
        for e, v in points:
            x, y = xy(e, v)
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        x = 4 if side == 0 else right + 4
        draw.text((x, top), f"{hi:.3g}", fill=colour)
        draw.text((x, bottom - 10), f"{lo:.3g}", fill=colour)
        draw.text((left + 4 + 90 * (len(legend) - 2), bottom + 20), key, fill=colour)
    draw.text((left, 4), f"{legend[0]} per epoch".strip(), fill="black")
    draw.text((left, bottom + 6), f"epoch {first}", fill="black")
    draw.text((right - 50, bottom + 6), f"epoch {last}", fill="black")
    return save_image_atomic(image, path)
