"""What opening a review costs: a cluster result of N drawn faces in G clusters (plus noise), timed through the
page's application in process (FastAPI's test client: the server's work, no network) and, where Chromium is
installed, in a real browser until the page and its pictures have loaded. Prints numbers only.

    .venv/bin/python benchmarks/review_open.py [--faces 2000] [--groups 40] [--actions 200] [--json FILE]
    .venv/bin/python benchmarks/review_open.py --result DIR   # a copy of a real result (its decisions are not touched)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from reid.review.result import NOISE
from reid.io.synthetic import CHARACTERS, draw_character

from measure import print_report, timed  # benchmarks/measure.py, beside this script


def write_result(root: Path, faces: int, groups: int, seed: int = 0) -> Path:
    """Drawn faces (128 px, as crops are) in ``groups`` clusters of uneven size, a tenth of them noise."""
    rng = random.Random(seed)
    weights = np.random.default_rng(seed).pareto(1.5, groups) + 1
    sizes = np.floor(weights / weights.sum() * faces * 0.9).astype(int) + 1
    keys = [f"cluster_{k:02d}" for k in range(groups)] + [NOISE]
    sizes = list(sizes) + [faces - int(sizes.sum())]
    plan, vectors = {}, []
    directions = np.random.default_rng(seed).normal(size=(groups + 1, 256))
    for g, (key, size) in enumerate(zip(keys, sizes)):
        plan[key] = []
        for _ in range(size):
            path = root / "images" / f"face_{len(vectors):05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            draw_character(CHARACTERS[g % len(CHARACTERS)], rng, 128).save(path)
            plan[key].append(str(path))
            vectors.append(directions[g] + np.random.default_rng(len(vectors)).normal(0, 0.8, 256))
    result = root / "result"
    result.mkdir()
    (result / "clusters.json").write_text(json.dumps({"method": "hdbscan", "margin": 0.0, "groups": plan}))
    np.save(result / "embeddings.npy", np.asarray(vectors, dtype=np.float16))
    return result


def in_process(result: Path, actions: int) -> dict:
    from fastapi.testclient import TestClient

    from reid.review.server import create_app
    from reid.review.session import Review

    out = {}
    out["open_s"], review = timed(lambda: Review(result))
    out["faces"], out["groups"] = len(review.result.faces), len(review.state().ordered())
    http = TestClient(create_app(review), base_url="http://127.0.0.1")
    out["overview_s"], page = timed(lambda: http.get("/").text)
    thumbs = sorted({int(s.split(".jpg")[0]) for s in page.split('src="/thumbs/')[1:]})
    out["overview_thumbs"] = len(thumbs)
    out["overview_thumbs_cold_s"], _ = timed(lambda: [http.get(f"/thumbs/{i}.jpg") for i in thumbs])
    largest = review.state().ordered()[0]
    out["largest_group_faces"] = len(largest.faces)
    out["group_page_s"], _ = timed(lambda: http.get(f"/groups/{largest.key}"))
    out["group_thumbs_cold_s"], _ = timed(lambda: [http.get(f"/thumbs/{i}.jpg") for i in largest.faces])
    names = [g.key for g in review.state().ordered() if not g.noise]
    times = []
    for k in range(actions):  # name, then move a face back and forth: a long session's log
        form = ({"group": names[k % len(names)], "name": f"character {k}", "next": "/"} if k % 2 == 0 else
                {"faces": str(largest.faces[k % len(largest.faces)]), "to": NOISE if k % 4 == 1 else largest.key,
                 "next": "/"})
        times.append(timed(lambda: http.post(f"/actions/{'name' if k % 2 == 0 else 'move'}", data=form,
                                             follow_redirects=True))[0])
    out["action_and_reload_median_s"] = statistics.median(times)
    out["replay_s"], _ = timed(review.state)
    out["overview_after_actions_s"], _ = timed(lambda: http.get("/"))
    return out


def in_browser(result: Path) -> dict | None:
    """Seconds from navigation until the overview and the pictures in view have loaded (the rest load as they
    are scrolled to), with a fresh server's empty thumbnail cache, then again."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    import threading

    from reid.review.server import bind, server
    from reid.review.session import Review

    sock = bind(None)
    running = server(Review(result))
    threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not running.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    out = {}
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=flags)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for run in ("cold", "warm"):
                out[f"browser_overview_{run}_s"], _ = timed(lambda: page.goto(url, wait_until="networkidle"))
            browser.close()
    finally:
        running.should_exit = True
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--result", type=Path, help="time this result folder (copied: review.sqlite is left alone)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.result is not None:
            result = Path(shutil.copytree(args.result, Path(tmp) / "result",
                                          ignore=shutil.ignore_patterns("review.sqlite*")))
            title = str(args.result)
        else:
            made, result = timed(lambda: write_result(Path(tmp), args.faces, args.groups))
            title = f"{args.faces} faces in {args.groups} clusters + noise (drawn in {made:.1f} s)"
        report = {"actions": args.actions, **in_process(result, args.actions)}
        if not args.no_browser:
            report.update(in_browser(result) or {})
    print(title + "\n")
    print_report(report, column="step", json_path=args.json)


if __name__ == "__main__":
    main()
