"""``reid evaluate --report``: one self-contained HTML file (inline SVG, thumbnails as data URIs) that can be
mailed or archived beside a model: metrics, per-character recall, the worst-confused pairs with the faces
that were confused, the verification score histogram with the threshold marked, and the confusion matrix."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

from reid.models.detectors.base import Box, load_face
from reid.errors import ImageLoadError
from reid.jobs.evaluate import Evaluation, Mistake
from reid.io.files import write_text_atomic

THUMB = 96
WORST_PAIRS, EXAMPLES_PER_PAIR = 5, 6
MAX_MATRIX = 25  # characters; a larger matrix is unreadable, the pairs list still shows the worst of it
# marks the file as reid's, so that evaluate may replace its own report without --force
GENERATOR = '<meta name="generator" content="reid">'

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 10px; background: #4a7; vertical-align: middle; }
.pair { margin: 1em 0; } .faces { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; text-align: center; font-size: 12px; width: 96px; overflow-wrap: anywhere; }
figure img { display: block; width: 96px; height: 96px; object-fit: contain; background: #f4f4f4; }
.arrow { display: flex; gap: 10px; align-items: flex-start; border: 1px solid #eee; padding: 4px; }
.muted { color: #777; }
table.matrix td { text-align: center; min-width: 2em; } table.matrix th { font-weight: normal; font-size: 12px; }
.scroll { overflow-x: auto; max-width: 100%; }
"""


def _thumbnail(face: dict, margin: float) -> str:
    """A data URI of the face (cut from its image when it has a box), or "" when the file cannot be read."""
    box = Box(*face["box"]) if "box" in face else None
    try:
        image = load_face(face["path"], box, margin)
    except ImageLoadError:
        return ""
    image.thumbnail((THUMB, THUMB))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(face: dict, caption: str, margin: float) -> str:
    uri = _thumbnail(face, margin)
    where = Path(face["path"]).name + (f" {face['box']}" if "box" in face else "")
    image = f'<img src="{uri}" alt="{escape(where)}">' if uri else '<div class="muted">(unreadable)</div>'
    return f'<figure title="{escape(face["path"])}">{image}<figcaption>{escape(caption)}<br>' \
           f'<span class="muted">{escape(where)}</span></figcaption></figure>'


def histogram_svg(histogram: dict[str, list], threshold: float, eer_threshold: float | None,
                  width: int = 720, height: int = 260) -> str:
    """Same- and different-character pair scores, each as a share of its own pairs, with the threshold
    (solid) and the EER point (dashed; none without same-character pairs) marked."""
    edges, same, different = histogram["edges"], histogram["same"], histogram["different"]
    left, right, top, bottom = 50, 20, 44, 40  # the legend row sits above the plot
    plot_w, plot_h = width - left - right, height - top - bottom
    marks = [(threshold, "")] + ([(eer_threshold, ' stroke-dasharray="5,4"')] if eer_threshold is not None else [])
    # the axis spans the scores and both marks, so a threshold outside every score still shows where it lies
    lo, hi = min(edges[0], *(s for s, _ in marks)), max(edges[-1], *(s for s, _ in marks))
    shares = {name: [c / max(1, sum(counts)) for c in counts] for name, counts in (("same", same), ("different", different))}
    peak = max(max(shares["same"], default=0), max(shares["different"], default=0)) or 1.0

    def x(score: float) -> float:
        return left + (score - lo) / (hi - lo) * plot_w

    def y(share: float) -> float:
        return top + plot_h - share / peak * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>']
    for name, colour in (("different", "#d55"), ("same", "#3a7")):
        for k, share in enumerate(shares[name]):
            if share > 0:
                parts.append(f'<rect x="{x(edges[k]):.1f}" y="{y(share):.1f}" width="{max(1.0, x(edges[k + 1]) - x(edges[k]) - 1):.1f}" '
                             f'height="{top + plot_h - y(share):.1f}" fill="{colour}" fill-opacity="0.55"/>')
    for k in range(6):
        score = lo + (hi - lo) * k / 5
        parts.append(f'<text x="{x(score):.1f}" y="{height - bottom + 15}" text-anchor="middle">{score:.2f}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 5}" text-anchor="middle">cosine score of a pair</text>')
    parts.append(f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 {top + plot_h / 2})" '
                 'text-anchor="middle">share of pairs</text>')
    # the marks are named in a legend row above the plot, never beside the lines: the two often lie close together
    legend = [("rect", "#3a7", f"same character ({sum(same)} pairs)"), ("rect", "#d55", f"different characters ({sum(different)} pairs)"),
              ("line", "", f"threshold {threshold:.3f}")]
    if eer_threshold is not None:
        legend.append(("dash", "", f"EER point {eer_threshold:.3f}"))
    at = left
    for kind, colour, label in legend:
        if kind == "rect":
            parts.append(f'<rect x="{at}" y="8" width="12" height="10" fill="{colour}" fill-opacity="0.55"/>')
        else:
            dash = ' stroke-dasharray="5,4"' if kind == "dash" else ""
            parts.append(f'<line x1="{at}" x2="{at + 14}" y1="13" y2="13" stroke="#222"{dash}/>')
        parts.append(f'<text x="{at + 18}" y="17">{escape(label)}</text>')
        at += 18 + 6.2 * len(label) + 16
    for score, dash in marks:
        parts.append(f'<line x1="{x(score):.1f}" x2="{x(score):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#222"{dash}/>')
    parts.append("</svg>")
    return "\n".join(parts)


def _metrics(result: Evaluation) -> str:
    rows = "".join(f"<tr><td>{escape(name)}</td><td>{escape(value)}</td></tr>" for name, value in result.summary_rows())
    return f"<table>{rows}</table>"


def _recall(result: Evaluation) -> str:
    rows = []
    for name, stats in sorted(result.per_character().items(), key=lambda kv: (kv[1]["top1_recall"], kv[0])):
        recall = stats["top1_recall"]
        rows.append(f'<tr><td>{escape(name)}</td><td class="num">{stats["faces"]}</td>'
                    f'<td class="num">{recall:.3f}</td><td><span class="bar" style="width:{recall * 150:.0f}px"></span></td>'
                    f'<td>{escape(stats["confused_with"] or "")}</td></tr>')
    return ("<p class=muted>Share of each character's faces whose nearest other face shows the same character "
            "(leave-one-out top-1), lowest first.</p><table><tr><th>character</th><th>faces</th><th>recall</th>"
            f"<th></th><th>most often mistaken for</th></tr>{''.join(rows)}</table>")


def _worst_pairs(result: Evaluation) -> str:
    pairs = result.confused_pairs()[:WORST_PAIRS]
    if not pairs:
        return "<p>No face's nearest neighbour shows another character.</p>"
    out = []
    for a, b, count in pairs:
        examples: list[Mistake] = [m for m in result.mistakes if {m.character, m.neighbour_character} == {a, b}]
        faces = "".join(
            f'<div class="arrow">{_figure(m.face, m.character, result.margin)}'
            f'{_figure(m.neighbour, f"{m.neighbour_character}, {m.score:.3f}", result.margin)}</div>'
            for m in examples[:EXAMPLES_PER_PAIR])
        out.append(f'<div class="pair"><h3>{escape(a)} and {escape(b)}: {count} face{"s" if count > 1 else ""}</h3>'
                   f'<div class="faces">{faces}</div></div>')
    return ('<p class="muted">Character pairs by how many faces of one had a face of the other as nearest neighbour. '
            'Each box: a face (left) and its nearest other face (right) with their score, highest first.</p>'
            + "".join(out))


def _matrix(result: Evaluation) -> str:
    names = sorted(result.confusion)
    if len(names) > MAX_MATRIX:
        return f"<p class=muted>{len(names)} characters: too many for a matrix; see the pairs above.</p>"
    # columns are numbered and rows carry number and name, so the matrix is as wide as its counts, not its names
    head = "".join(f'<th title="{escape(n)}">{k}</th>' for k, n in enumerate(names, 1))
    rows = []
    for k, true in enumerate(names, 1):
        row, total = result.confusion[true], sum(result.confusion[true].values())
        cells = "".join(
            f'<td style="background: rgba({"60,160,110" if other == true else "220,80,80"},{row.get(other, 0) / total:.2f})">'
            f'{row.get(other, 0) or ""}</td>' for other in names)
        rows.append(f'<tr><th style="text-align:left">{k}. {escape(true)}</th>{cells}</tr>')
    return ("<p class=muted>Rows: a face's character; columns (numbered as the rows): the character of its nearest "
            f'other face.</p><div class="scroll"><table class="matrix"><tr><th></th>{head}</tr>{"".join(rows)}</table></div>')


def _problems(result: Evaluation) -> str:
    items = [f"<li>{escape(str(f.path))}: {escape(f.reason)}</li>" for f in result.failures]
    items += [f"<li>{escape(str(p))}: no face found by {escape(result.detector or '')}</li>" for p in result.no_face]
    if not items:
        return ""
    return f"<h2>Not evaluated ({len(items)})</h2><details><summary>files</summary><ul>{''.join(items)}</ul></details>"


def render(result: Evaluation) -> str:
    unit = "faces" if result.detector else "images"
    setup = f"encoder {result.encoder}" + (f", detector {result.detector}" if result.detector else "")
    if result.context:
        setup += f", context {result.context['context']} (weights {result.context['weights']})"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{GENERATOR}<title>reid evaluation: {escape(result.dataset)}</title>
<style>{STYLE}</style></head><body>
<h1>reid evaluation of {escape(result.dataset)}</h1>
<p>{escape(setup)}: {result.n_images} {unit}, {result.n_characters} characters.</p>
<h2>Metrics</h2>{_metrics(result)}
<h2>Verification scores</h2>{histogram_svg(result.score_histogram, result.threshold, result.eer_threshold)}
<h2>Per-character recall</h2>{_recall(result)}
<h2>Worst-confused pairs</h2>{_worst_pairs(result)}
<h2>Confusion of nearest neighbours</h2>{_matrix(result)}
{_problems(result)}
</body></html>
"""


def is_reid_report(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return GENERATOR.encode() in f.read(1024)
    except OSError:
        return False


def write_report(result: Evaluation, path: str | Path) -> Path:
    return write_text_atomic(Path(path), render(result))
