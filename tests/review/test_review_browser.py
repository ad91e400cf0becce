"""reid review in a real browser: Playwright drives the system's Chromium (Debian's ``chromium`` package; nothing
is downloaded) through a review from clusters to an enrollment that classify uses.

Set REID_SCREENSHOTS=DIR to keep the screenshots (the README's come from here)."""

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from reid.review.server import bind, server
from reid.review.session import Review

playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright.expect  # retries until the page that an action posted to has loaded
CHROMIUM = os.environ.get("REID_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium), or set "
                                                         "REID_CHROMIUM to its path")]
# as root and on a machine with no network: no sandbox, and none of Chromium's own calls home
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture
def served(review_result):
    folder, truth = review_result
    sock = bind(None)
    running = server(Review(folder))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", folder, truth
    running.should_exit = True
    thread.join(10)


@pytest.fixture
def page():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser.new_page(viewport={"width": 1280, "height": 860})
        browser.close()


def test_from_clusters_to_an_enrollment_in_the_browser(served, page, tmp_path, cli):
    url, folder, truth = served
    shots = Path(os.environ.get("REID_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(url + "/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "review-overview.png"))

    row = page.locator("#cluster_00")
    row.get_by_placeholder("name this character").fill("Kiiro")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("named cluster_00 'Kiiro'")

    page.get_by_role("link", name="cluster 02").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "review-cluster.png"))
    page.locator('button[data-merge="cluster_03"]').click()  # the first suggestion: Aoi's other half
    expect(page.get_by_role("status")).to_contain_text("merged cluster_03 into cluster_02")
    page.get_by_label("name", exact=True).fill("Aoi")
    page.locator("#save-name").click()
    expect(page.get_by_role("status")).to_contain_text("named cluster_02 'Aoi'")

    page.goto(url + "/groups/cluster_00")
    stray = page.locator('label.face').last  # least typical first... last: the Beni face among Kiiro's
    assert stray.locator("input").get_attribute("value") == str(truth["Beni"][0])
    stray.click()
    page.get_by_label("move to").select_option("cluster_01")
    page.locator("#move-selected").click()
    expect(page.get_by_role("status")).to_contain_text("moved 1 face to cluster_01")
    page.goto(url + "/groups/cluster_01")
    page.get_by_label("name", exact=True).fill("Beni")
    page.locator("#save-name").click()
    expect(page.get_by_role("status")).to_contain_text("named cluster_01 'Beni'")

    page.reload()  # nothing lives in the page: everything came back from the database
    page.goto(url + "/")
    text = page.inner_text("main")
    assert "Kiiro" in text and "Aoi" in text and "Beni" in text and "cluster 03" not in text
    assert page.locator("#cluster_01 .badge").first.inner_text() == "5 faces"
    page.screenshot(path=str(shots / "review-named.png"))

    page.locator("#export").click()
    expect(page.get_by_role("status")).to_contain_text("exported")
    enrollment = folder / "enrollment" / "enroll.json"
    assert json.loads(enrollment.read_text()) == {"Aoi": "Aoi", "Beni": "Beni", "Kiiro": "Kiiro"}
    result = cli.json("classify", "--enroll", enrollment, "--target-dir", folder.parent / "targets", "--mode", "any")
    right = sum(m["character"].lower() == m["relative_path"].split("_")[0] for m in result["matches"])
    assert right >= 8, result["matches"]

    page.goto(url + f"/faces/{truth['Kiiro'][1]}")
    page.screenshot(path=str(shots / "review-face.png"))
    assert page.locator(".source .box").count() == 1


def test_splitting_a_mixed_cluster_in_the_browser(served, page):
    url, folder, truth = served
    page.goto(url + "/groups/cluster_00")
    page.locator("#split").click()
    expect(page.locator("h2")).to_contain_text("Split cluster 00")
    assert page.locator("h3.part").count() == 2  # Kiiro's five faces, and the Beni face among them
    page.get_by_label("parts").select_option("3")  # another count re-draws the preview
    expect(page.locator("h3.part")).to_have_count(3)
    page.get_by_label("parts").select_option("")
    expect(page.locator("h3.part")).to_have_count(2)
    page.locator("#apply-split").click()
    expect(page.get_by_role("status")).to_contain_text("split cluster_00 into 2")
    page.goto(url + "/groups/group_new1")
    faces = [int(v) for v in page.locator("label.face input").evaluate_all("els => els.map(e => e.value)")]
    assert faces == truth["Beni"][:1]
