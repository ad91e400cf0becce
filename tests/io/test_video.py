"""Videos: frames sampled by time and at cuts (PyAV + PySceneDetect), faces of a shot linked into tracks, then
cluster and classify with time stamps, on a video the test draws and encodes itself."""

import json

import pytest

from reid.review.result import load_result
from reid.io.synthetic import write_video
from reid.io.video import Sampling, sample_video, timestamp


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "episode.mp4"
    return path, write_video(path, fps=10, size=128)


def shots_of(truth, name):
    return [(s, e) for s, e, who in truth if who == name]


def test_frames_every_step_and_at_each_cut(video):
    path, truth = video
    every = [(round(t, 2), shot) for t, shot, _ in sample_video(path, Sampling(every=0.5))]
    assert [t for t, _ in every] == [k / 2 for k in range(34)]
    cuts = [s for s, _, _ in truth]
    for t, shot in every:  # the shot number counts the cuts before the frame
        assert shot == sum(c <= t + 1e-6 for c in cuts) - 1
    scenes = [round(t, 2) for t, _, _ in sample_video(path, Sampling(every=None, scenes=True))]
    assert scenes == [round(c + 0.2, 2) for c in cuts]  # just after each cut: one frame per shot
    window = [round(t, 2) for t, _, image in sample_video(path, Sampling(every=1, skip=2, stop=6, max_width=64))]
    assert window == [2.0, 3.0, 4.0, 5.0]
    assert next(sample_video(path, Sampling(max_width=64)))[2].size == (64, 64)
    assert timestamp(3723.5) == "01-02-03.500"


def test_cluster_a_video_finds_who_is_on_screen_when(video, cli, tmp_path):
    path, truth = video
    out = tmp_path / "clusters"
    report = cli.json("cluster", path, "--every", "0.5", "--umap-dim", "0", "--min-cluster-size", "2",
                      "--result-dir", out)
    assert report["clusters"] == 3 and report["tracks"] == len(truth)  # one track per shot: no near-duplicates
    timeline = report["timeline"]
    found = {tuple(map(tuple, t["appearances"][str(path)])): name for name, t in timeline.items()}
    for character in ("Aoi", "Beni", "Kiiro"):
        assert tuple(shots_of(truth, character)) in found, (character, timeline)
    assert timeline["noise"]["appearances"][str(path)] == [[3.5, 4.5], [12.5, 13.0]]  # the empty shots
    aoi = next(name for ranges, name in found.items() if ranges == tuple(shots_of(truth, "Aoi")))
    assert timeline[aoi]["screen_time"] == 6.5
    face = report["groups"][aoi][0]
    assert face["path"] == str(path) and face["time"] == 0.0 and "frame" not in face  # stdout: no frame kept
    saved = json.loads((out / "clusters.json").read_text())
    frame = saved["groups"][aoi][0]["frame"]
    assert frame == str(out / "frames" / "episode" / "episode_00-00-00.000.jpg") and (out / "frames" / "frames.json").exists()
    assert (out / "timeline.png").exists() and (out / f"{aoi}.png").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # the frames' staging folder is gone
    result = load_result(out)  # reid review opens it: faces are the kept frames
    assert len(result.faces) == 34 and all(f.path.exists() and f.time is not None for f in result.faces)


def test_classify_a_video_gives_time_ranges_per_character(video, cli, data, tmp_path):
    path, truth = video
    report = cli.json("classify", "--enroll", data / "enroll.json", "--target-dir", path, "--every", "0.5",
                      "--mode", "any", "--threshold", "0.6", "--result-dir", tmp_path / "sorted")
    timeline = report["timeline"]
    for character in ("Aoi", "Beni", "Kiiro"):
        assert timeline[character]["appearances"][str(path)] == [list(r) for r in shots_of(truth, character)]
    assert timeline["unknown"]["appearances"][str(path)] == [[3.5, 4.5], [12.5, 13.0]]  # the empty shots
    match = report["matches"][0]
    assert match["video"] == str(path) and match["time"] == 0.0 and match["frame"].endswith("episode_00-00-00.000.jpg")
    assert (tmp_path / "sorted" / "Aoi" / "episode" / "episode_00-00-00.000.jpg").exists()
    text = cli("classify", "--enroll", data / "enroll.json", "--target-dir", path, "--scenes", "--mode", "any").stdout
    assert "in the videos" in text and "0:00:00.2" in text


def test_bad_videos(cli, tmp_path, draw, video):
    folder = tmp_path / "mixed"
    draw("Aoi", folder / "a.png")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    result = cli("cluster", folder, "--umap-dim", "0", "--min-cluster-size", "1", "--json")
    assert "broken.mp4" in result.stderr and "not a video PyAV can read" in result.stderr
    assert json.loads(result.stdout)["skipped"][0]["path"].endswith("broken.mp4")
    only = cli("cluster", folder / "broken.mp4", ok=False)
    assert only.exit_code == 1 and "no frame could be read" in only.stderr
    wrong = cli("cluster", video[0], "--every", "0", ok=False)
    assert wrong.exit_code != 0


def test_detect_on_a_video_names_crops_by_time(video, cli, tmp_path):
    path, truth = video
    report = cli.json("detect", path, "--scenes", "--detector", "charfaces_fcos", "--out", tmp_path / "crops")
    assert report["images"] == len(truth)  # one frame per shot
    assert f"{path}#t=0.2" in report["boxes"]
    found = {k: v for k, v in report["crops"].items()}
    assert any(k.startswith("episode/episode_00-00-00.200_face0") for k in found), found
    crop = next(iter(found.values()))
    assert crop["source"] == str(path) and crop["time"] >= 0.2
    assert report["with_face"] >= sum(1 for *_, who in truth if who)  # every drawn face found


@pytest.mark.slow
def test_body_context_on_frames(video, cli):
    path, truth = video
    report = cli.json("cluster", path, "--detector", "charfaces_fcos", "--context", "body", "--umap-dim", "0",
                      "--min-cluster-size", "2")
    assert report["clusters"] >= 2 and all(face["box"] for faces in report["groups"].values() for face in faces)
    assert report["timeline"] and report["tracks"] >= sum(1 for *_, who in truth if who)
