"""Who appears when: one row per character (its most typical face, its name and screen time), a bar wherever it
is on screen, one panel per video."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from reid.io.video import clock

TIMELINE = "timeline.png"
ROW = 44
LABEL = 220
WIDTH = 1000
PALETTE = [(66, 99, 235), (240, 62, 62), (55, 178, 77), (247, 103, 7), (174, 62, 201), (16, 152, 173),
           (230, 73, 128), (130, 201, 30), (121, 80, 242), (250, 176, 5)]


def _tick(duration: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 12:
            return step
    return 7200


def timeline_picture(timeline: dict[str, dict], durations: dict[str, float],
                     faces: dict[str, Image.Image] | None = None) -> Image.Image:
    """``timeline``: {group: {"appearances": {video: [(start, end), ...]}, "screen_time": s}} as
    ``FolderClusters.timeline`` gives it; ``durations``: seconds per video; ``faces``: a picture per group."""
    faces = faces or {}
    panels = []
    for video, duration in durations.items():
        rows = [(name, t["appearances"][video], t["screen_time"]) for name, t in timeline.items()
                if video in t["appearances"]]
        if not rows:
            continue
        duration = max(duration, max(e for _, ranges, _ in rows for _, e in ranges), 1e-3)
        panel = Image.new("RGB", (LABEL + WIDTH + 20, 30 + ROW * len(rows) + 24), "white")
        draw = ImageDraw.Draw(panel)
        draw.text((8, 8), f"{Path(video).name}  ({clock(duration)})", fill="black")
        scale = WIDTH / duration
        step = _tick(duration)
        t = 0.0
        while t <= duration + 1e-6:
            x = LABEL + round(t * scale)
            draw.line([(x, 28), (x, 30 + ROW * len(rows))], fill=(225, 225, 230))
            draw.text((x + 2, 32 + ROW * len(rows)), clock(t).removeprefix("0:").removesuffix(".0"), fill=(110, 110, 120))
            t += step
        for k, (name, ranges, screen) in enumerate(rows):
            y = 30 + ROW * k
            colour = (150, 150, 160) if name == "noise" else PALETTE[k % len(PALETTE)]
            if name in faces:
                face = faces[name].copy()
                face.thumbnail((ROW - 4, ROW - 4))
                panel.paste(face, (4, y + 2))
            draw.text((ROW + 6, y + 8), name, fill="black")
            draw.text((ROW + 6, y + 22), f"{screen:.1f} s on screen", fill=(110, 110, 120))
            for start, end in ranges:
                draw.rectangle([LABEL + round(start * scale), y + 10, LABEL + max(round(end * scale), round(start * scale) + 2), y + ROW - 10],
                               fill=colour)
        panels.append(panel)
    if not panels:
        return Image.new("RGB", (LABEL + WIDTH, 40), "white")
    out = Image.new("RGB", (max(p.width for p in panels), sum(p.height for p in panels)), "white")
    y = 0
    for p in panels:
        out.paste(p, (0, y))
        y += p.height
    return out
