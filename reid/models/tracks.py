"""Faces from neighbouring frames of one shot are one appearance, not many: they are linked into tracks (same
video and shot, similar embedding, overlapping box), so a long shot counts once when clusters are sized, and
each track becomes a time range on the character's timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from reid.models.detectors.base import Box
from reid.io.video import FrameInfo

MIN_COSINE = 0.75  # to the track's latest face; faces of one character in one shot score higher
MIN_IOU = 0.2  # boxes between two samples of one shot move, but overlap


@dataclass
class Track:
    rows: list[int]  # the faces (rows of the embeddings), in time order
    video: str | None = None  # None: a still image
    shot: int = -1
    times: list[float] = field(default_factory=list)

    def span(self, step: float) -> tuple[float, float]:
        """From the first sample to one sampling step after the last."""
        return self.times[0], self.times[-1] + step


def link_tracks(infos: Sequence[FrameInfo | None], boxes: Sequence[Box | None], vectors: np.ndarray, *,
                min_cosine: float = MIN_COSINE, min_iou: float = MIN_IOU) -> list[Track]:
    """Tracks over all faces: within a video's shot, greedily, each face joins the most similar track whose
    latest face is from an earlier frame, is at least ``min_cosine`` alike and overlaps by ``min_iou``; faces of
    still images are tracks of one."""
    tracks: list[Track] = []
    by_shot: dict[tuple[str, int], list[int]] = {}
    for row, info in enumerate(infos):
        if info is None:
            tracks.append(Track([row]))
        else:
            by_shot.setdefault((info.video, info.shot), []).append(row)
    for (video, shot), rows in by_shot.items():
        open_tracks: list[Track] = []
        by_time: dict[float, list[int]] = {}
        for row in rows:
            by_time.setdefault(infos[row].time, []).append(row)
        for t in sorted(by_time):
            taken: set[int] = set()
            for row in by_time[t]:
                best, best_score = None, min_cosine
                for k, track in enumerate(open_tracks):
                    if k in taken:
                        continue
                    last = track.rows[-1]
                    score = float(vectors[row] @ vectors[last])
                    if score >= best_score and _overlap(boxes[row], boxes[last]) >= min_iou:
                        best, best_score = k, score
                if best is None:
                    open_tracks.append(Track([row], video, shot, [t]))
                    taken.add(len(open_tracks) - 1)
                else:
                    open_tracks[best].rows.append(row)
                    open_tracks[best].times.append(t)
                    taken.add(best)
        tracks += open_tracks
    return tracks


def _overlap(a: Box | None, b: Box | None) -> float:
    return 1.0 if a is None or b is None else a.iou(b)


def track_vectors(tracks: Sequence[Track], vectors: np.ndarray) -> np.ndarray:
    """Each track's mean embedding, unit length."""
    means = np.stack([vectors[t.rows].mean(axis=0) for t in tracks]).astype(np.float32)
    return np.ascontiguousarray(means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12))


def merge_ranges(ranges: Sequence[tuple[float, float]], gap: float = 0.0) -> list[tuple[float, float]]:
    """Overlapping ranges, and ranges at most ``gap`` apart, joined; sorted."""
    merged: list[list[float]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + gap + 1e-6:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in merged]


def screen_timeline(ranges: dict[str, dict[str, list[tuple[float, float]]]], last: str) -> dict[str, dict]:
    """Per name (a cluster, a character): its time ranges per video, merged, and its screen time in seconds;
    most on screen first, ``last`` (noise, unknown) at the end."""
    out = {}
    for name, per_video in ranges.items():
        merged = {video: merge_ranges(r) for video, r in per_video.items()}
        out[name] = {"appearances": merged, "screen_time": round(sum(e - s for r in merged.values() for s, e in r), 3)}
    return dict(sorted(out.items(), key=lambda kv: (kv[0] == last, -kv[1]["screen_time"])))
