"""reid review: the result it reads, the decisions it keeps, the page's API (FastAPI's test client), exports."""

import csv
import html
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from reid.errors import ReidError
from reid.review.result import load_result
from reid.review.server import bind, create_app, server
from reid.review.session import Review


def client(review: Review) -> TestClient:
    return TestClient(create_app(review), base_url="http://127.0.0.1", follow_redirects=False)


def post(http: TestClient, action: str, **form) -> str:
    """Post a form the way the page does; the message or error the page shows next."""
    response = http.post(f"/actions/{action}", data=form)
    assert response.status_code == 303, response.text
    shown = http.get(response.headers["location"])
    assert shown.status_code == 200
    return response.headers["location"]


def groups(review: Review) -> dict:
    return {g.key: g for g in review.state().ordered()}


def test_overview_lists_groups_largest_first_noise_last(review_result):
    folder, _ = review_result
    page = client(Review(folder)).get("/").text
    order = [page.index(f'id="{key}"') for key in ("cluster_00", "cluster_01", "cluster_02", "cluster_03", "noise")]
    assert order == sorted(order)
    assert "6 faces" in page and "noise (no character)" in page
    assert (folder / "review.sqlite").exists()


def test_suggestions_merge_candidates_and_strays_last(review_result):
    folder, truth = review_result
    http = client(Review(folder))
    page = http.get("/groups/cluster_02").text
    assert page.index('data-merge="cluster_03"') < page.index('data-merge="cluster_00"')  # Aoi's other half first
    page = http.get("/groups/cluster_00").text
    faces = [int(s.split('"')[0]) for s in page.split('name="faces" value="')[1:]]
    assert faces[-1] == truth["Beni"][0]  # the stray is the least typical
    assert sorted(faces) == list(range(6))


def test_actions_are_kept_undone_and_resumed(review_result):
    folder, truth = review_result
    review = Review(folder)
    http = client(review)
    post(http, "name", group="cluster_00", name="  Kiiro ", next="/")
    location = post(http, "merge", into="cluster_02", groups="cluster_03", next="/groups/cluster_02")
    assert location.startswith("/groups/cluster_02?message=merged")
    post(http, "move", faces=[truth["Beni"][0]], to="cluster_01", next="/groups/cluster_00")
    post(http, "move", faces=truth["Midori"], to="new", next="/groups/noise")
    post(http, "not-character", group="group_new1", value="true", next="/")
    state = groups(review)
    assert state["cluster_00"].name == "Kiiro" and sorted(state["cluster_00"].faces) == truth["Kiiro"]
    assert "cluster_03" not in state and sorted(state["cluster_02"].faces) == truth["Aoi"]
    assert sorted(state["cluster_01"].faces) == truth["Beni"]
    assert state["group_new1"].not_character and "noise" not in state  # empty groups are not shown

    post(http, "not-character", group="group_new1", value="false", next="/")  # "It is a character"
    assert not groups(review)["group_new1"].not_character
    post(http, "undo", next="/")
    assert groups(review)["group_new1"].not_character
    assert "undid" in post(http, "undo", next="/")
    assert not groups(review)["group_new1"].not_character
    # a new server on the same folder (the browser closed, the server killed) resumes where it stopped
    again = groups(Review(folder))
    assert {k: (g.name, sorted(g.faces)) for k, g in again.items()} == \
           {k: (g.name, sorted(g.faces)) for k, g in groups(review).items()}
    page = client(Review(folder)).get("/").text
    assert "marked group_new1 not a character" in page  # the history, the undone one struck through
    assert 'class="undone"' in page


def test_refused_actions_say_why_and_change_nothing(review_result):
    folder, _ = review_result
    review = Review(folder)
    http = client(review)
    for action, form, reason in [
        ("merge", {"into": "cluster_00", "groups": "noise"}, "noise is not a cluster"),
        ("merge", {}, "select the clusters"),
        ("move", {"to": "cluster_01"}, "select the faces"),
        ("move", {"faces": "999", "to": "cluster_01"}, "no such face"),
        ("name", {"group": "cluster_01", "name": "Unknown"}, "classify calls"),
        ("name", {"group": "cluster_09", "name": "x"}, "no group 'cluster_09'"),
    ]:
        location = post(http, action, **form, next="/")
        assert "error=" in location
        assert reason in html.unescape(http.get(location).text)
    assert review.store.actions() == []
    assert http.get("/groups/cluster_99").status_code == 404


def test_only_local_pages_may_use_it(review_result):
    folder, _ = review_result
    app = create_app(Review(folder))
    assert TestClient(app, base_url="http://evil.example").get("/").status_code == 403  # DNS rebinding
    http = TestClient(app, base_url="http://127.0.0.1")
    foreign = http.post("/actions/undo", data={"next": "/"}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert http.get("/", headers={"Host": "localhost:8000"}).status_code == 200


def test_pictures_and_a_missing_image(review_result):
    folder, truth = review_result
    review = Review(folder)
    http = client(review)
    face = truth["Kiiro"][1]  # cut from a larger picture
    thumb = Image.open(__import__("io").BytesIO(http.get(f"/thumbs/{face}.jpg").content))
    assert thumb.size == (64, 64)
    page = http.get(f"/faces/{face}").text
    assert "box 24, 8, 88, 72" in page and "left:25.0%" in page
    review.result.faces[truth["Kiiro"][0]].path.unlink()
    missing = http.get(f"/thumbs/{truth['Kiiro'][0]}.jpg")
    assert missing.status_code == 200 and missing.headers["content-type"] == "image/jpeg"  # a drawn placeholder
    assert "cannot be read" in http.get(f"/faces/{truth['Kiiro'][0]}").text
    assert http.get("/").status_code == 200  # the rest still works


def test_export_enrollment_then_classify_with_it(review_result, cli):
    folder, truth = review_result
    review = Review(folder)
    with pytest.raises(ReidError, match="name at least one cluster"):
        review.export(folder.parent / "e" / "enroll.json")
    http = client(review)
    post(http, "name", group="cluster_00", name="Kiiro")
    post(http, "move", faces=[truth["Beni"][0]], to="cluster_01")
    post(http, "name", group="cluster_01", name="Beni")
    post(http, "name", group="cluster_02", name="Aoi")
    post(http, "name", group="cluster_03", name="aoi")  # one character in two clusters
    post(http, "name", group="noise", name="x")  # refused
    location = post(http, "export", path=str(review.export_path()), next="/")
    assert "message=exported" in location
    out = folder / "enrollment"
    enrollment = json.loads((out / "enroll.json").read_text())
    assert enrollment == {"Kiiro": "Kiiro", "Beni": "Beni", "Aoi": "Aoi"}
    assert len(list((out / "Aoi").iterdir())) == 6 and len(list((out / "Beni").iterdir())) == 5
    crops = [Image.open(p).size for p in (out / "Kiiro").iterdir()]
    assert sorted(crops) == [(64, 64)] * 5  # boxes cut, whole images copied
    assert review.export_path() == folder / "enrollment-2" / "enroll.json"
    assert "already exists" in http.get(post(http, "export", path=str(out / "enroll.json"))).text

    result = cli.json("classify", "--enroll", out / "enroll.json", "--target-dir", folder.parent / "targets",
                      "--mode", "any")
    right = sum(m["character"].lower() == m["relative_path"].split("_")[0] for m in result["matches"])
    assert right >= 8, result["matches"]  # of 9 targets


def test_export_labels_csv(review_result, cli):
    folder, truth = review_result
    review = Review(folder)
    review.act("name", {"group": "cluster_01", "name": "Beni"})
    review.act("not_character", {"group": "cluster_03", "value": True})
    cli("review", folder, "--export", folder.parent / "labels.csv")
    rows = list(csv.DictReader((folder.parent / "labels.csv").open()))
    assert len(rows) == 18
    by_face = {(r["path"], r["left"]): r for r in rows}
    beni = [r for r in rows if r["name"] == "Beni"]
    assert len(beni) == 4 and all(r["status"] == "character" for r in beni)
    assert sum(r["status"] == "not_character" for r in rows) == 3 and sum(r["status"] == "noise" for r in rows) == 2
    assert {r["left"] for r in rows} == {"", "24"} and len(by_face) == 18
    cli("review", folder, "--export", folder.parent / "labels.csv")  # its own earlier export is replaced
    (folder.parent / "mine.csv").write_text("precious\n")
    result = cli("review", folder, "--export", folder.parent / "mine.csv", ok=False)
    assert result.exit_code == 1 and "reid did not write" in result.stderr
    assert (folder.parent / "mine.csv").read_text() == "precious\n"


def test_bad_inputs_get_one_line(review_result, tmp_path, cli):
    folder, _ = review_result
    for args, reason in [
        ((tmp_path / "nowhere",), "not a folder"),
        ((tmp_path / "images",), "not a reid result"),
        ((folder, "--export", tmp_path / "x.txt"), "a .json path"),
    ]:
        result = cli("review", *args, ok=False)
        assert result.exit_code == 1 and reason in result.stderr and len(result.stderr.strip().splitlines()) == 1
    (folder / "review.sqlite").write_bytes(b"not a database at all" * 100)
    result = cli("review", folder, "--export", tmp_path / "l.csv", ok=False)
    assert "not a readable review database" in result.stderr and "move" in result.stderr
    (folder / "review.sqlite").unlink()
    Review(folder)
    clusters = json.loads((folder / "clusters.json").read_text())
    clusters["groups"]["cluster_01"].pop()  # the result changed under its decisions
    (folder / "clusters.json").write_text(json.dumps(clusters))
    assert "another version of this result" in cli("review", folder, "--export", tmp_path / "l.csv", ok=False).stderr
    (folder / "clusters.json").write_text('{"groups": [1, 2]}')
    assert "not the layout reid writes" in cli("review", folder, ok=False).stderr


def test_embeddings_missing_or_not_this_results(review_result):
    folder, _ = review_result
    (folder / "embeddings.npy").write_bytes(b"junk")
    review = Review(folder, db=folder.parent / "elsewhere.sqlite")
    assert review.result.vectors is None and "unreadable" in review.result.notes[0]
    page = client(review).get("/groups/cluster_00").text
    assert "Looks like" not in page and "unreadable" in client(review).get("/").text


def test_port_in_use_and_a_real_server(review_result):
    folder, _ = review_result
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with pytest.raises(ReidError, match=f"port {taken.getsockname()[1]} on 127.0.0.1 cannot be used"):
        bind(taken.getsockname()[1])
    taken.close()
    sock = bind(None)
    running = server(Review(folder))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        for _ in range(100):
            if running.started:
                break
            time.sleep(0.05)
        assert "cluster 00" in urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        running.should_exit = True
        thread.join(10)


def test_reads_what_cluster_and_classify_write(data, cli, tmp_path):
    out = tmp_path / "clusters"
    cli("cluster", data / "targets", "--umap-dim", "0", "--min-cluster-size", "3", "--result-dir", out)
    result = load_result(out)
    assert result.kind == "cluster" and len(result.faces) == 24 and result.vectors.shape[0] == 24
    assert all(f.path.is_absolute() and f.path.exists() for f in result.faces)
    sorted_dir = tmp_path / "sorted"
    cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--result-dir", sorted_dir,
        "--mode", "any")
    result = load_result(sorted_dir)
    assert result.kind == "classify" and len(result.faces) == 24 and result.vectors.shape == (24, result.vectors.shape[1])
    state = Review(sorted_dir).state()
    assert {g.name for g in state.ordered() if not g.noise} <= {"Aoi", "Beni", "Kiiro"}
    # a second classify into the same folder replaces its own JSON, and refuses to replace somebody else's
    cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--result-dir", sorted_dir,
        "--mode", "any")
    (sorted_dir / "classification.json").write_text("{}")
    refused = cli("classify", "--enroll", data / "enroll.json", "--target-dir", data / "targets", "--result-dir",
                  sorted_dir, ok=False)
    assert "reid did not write" in refused.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_server_is_its_normal_end(review_result, signum):
    result, _ = review_result
    process = subprocess.Popen([sys.executable, "-c", "from reid.app.entry import main; main()", "review", str(result)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith("open http://127.0.0.1:"):
                break
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "review server stopped; every decision is saved in" in out and "interrupted" not in err and "Traceback" not in err


def test_a_mixed_cluster_splits_as_previewed_and_undo_takes_the_split_back(review_result):
    result, truth = review_result
    review = Review(result)
    page = client(review)
    # cluster_00 holds five Kiiro faces and one of Beni's: the best cut is two parts, Kiiro's and Beni's
    preview = page.get("/groups/cluster_00/split")
    assert preview.status_code == 200 and "part 2" in preview.text and "Apply: split into 2" in preview.text
    seen = ",".join(map(str, sorted(review.state().require("cluster_00").faces)))
    done = post(page, "split", group="cluster_00", parts="", seen=seen, next="/groups/cluster_00")
    assert "split+cluster_00+into+2" in done
    state = review.state()
    assert sorted(state.require("cluster_00").faces) == sorted(truth["Kiiro"])
    beni = [f for f in truth["Beni"] if f in state.require("group_new1").faces]
    assert beni and sorted(state.require("group_new1").faces) == beni
    # a preview that no longer matches the cluster is refused, not applied to other faces
    stale = post(page, "split", group="cluster_00", parts="2", seen=seen, next="/")
    assert "changed+since+the+preview" in stale
    review.undo()
    assert len(review.state().require("cluster_00").faces) == 6 and "group_new1" not in review.state().groups


def test_a_split_needs_the_embeddings_and_two_faces(review_result):
    result, _ = review_result
    (result / "embeddings.npy").unlink()
    response = client(Review(result)).get("/groups/cluster_00/split")
    assert response.status_code == 404 and "embeddings.npy" in response.text


@pytest.mark.parametrize("sql, said", [
    ("UPDATE actions SET payload = '{broken'", "does not hold a JSON object"),
    ("UPDATE actions SET payload = 'null'", "does not hold a JSON object"),
    ("UPDATE actions SET payload = '[1, 2]'", "does not hold a JSON object"),
    ("UPDATE actions SET payload = '{\"group\": 3, \"name\": \"Aoi\"}'", "wrong or missing 'group'"),
    ("UPDATE actions SET payload = '{\"group\": \"cluster_00\"}'", "wrong or missing 'name'"),
    ("UPDATE actions SET kind = 'explode'", "unknown kind 'explode'"),
    ("UPDATE meta SET value = 'one' WHERE key = 'schema_version'", "schema version 'one' is not a number"),
])
def test_a_review_database_edited_by_hand_is_one_line(review_result, tmp_path, cli, sql, said):
    import sqlite3

    folder, _ = review_result
    Review(folder).act("name", {"group": "cluster_00", "name": "Kiiro"})
    with sqlite3.connect(folder / "review.sqlite") as db:
        db.execute(sql)
    result = cli("review", folder, "--export", tmp_path / "l.csv", ok=False)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and said in lines[0] and "move" in lines[0], result.stderr


def test_a_review_name_that_would_be_the_unknown_folder_or_share_one_is_refused(review_result, tmp_path):
    folder, _ = review_result
    review = Review(folder)
    with pytest.raises(ReidError, match="would be the folder 'unknown'"):
        review.act("name", {"group": "cluster_00", "name": "unknown."})
    review.act("name", {"group": "cluster_00", "name": "a/b"})
    review.act("name", {"group": "cluster_01", "name": "a_b"})
    with pytest.raises(ReidError, match="'a/b' and 'a_b' would share the folder 'a_b'"):
        review.export(tmp_path / "e.json")
    assert not (tmp_path / "e.json").exists() and not (tmp_path / "a_b").exists()
