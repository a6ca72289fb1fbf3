"""The review station in a real headless browser (Debian's chromium + chromedriver, via Selenium),
on records the pipeline read from the sample faxes, served by the real `intake review serve`.

A scripted reviewer logs in and clears the queue with the keyboard only, holds one record, returns
one, reopens one; a second reviewer collides with the first; every page and image needs a login.
The test measures keystrokes and seconds per flagged field and takes screenshots of the queue and
the record page: into a temporary folder, or into ``$INTAKE_SCREENSHOTS`` (``INTAKE_SCREENSHOTS=docs``
refreshes the README's pictures).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from intake.review.accounts import hash_password
from intake.store import Store

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--window-size=1500,1100", "--lang=ja"]
PASSWORD = "correct horse"
FAXES = ("fax_0001.tif", "fax_0002.tif", "fax_0006.png", "fax_0008.tif", "fax_0003.tif")

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="chromium and chromium-driver are not installed (scripts/install.sh --test)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """A store filled by the real watcher desk from sample faxes (+ a cover sheet and a broken file),
    two reviewers, and `intake review serve` running on it."""
    from PIL import Image, ImageDraw

    from intake.ingest import sha256_of
    from intake.pipeline import Pipeline
    from intake.watch import Desk, Watcher

    root = tmp_path_factory.mktemp("station")
    db = root / "data" / "intake.db"
    inbox = root / "inbox"
    inbox.mkdir()
    for name in FAXES:
        shutil.copy(REPO / "samples" / name, inbox / name)
    cover = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(cover)
    for y in range(200, 1400, 90):
        draw.rectangle((150, y, 1500, y + 6), fill=0)
    cover.save(inbox / "cover.png", dpi=(200, 200))
    shutil.copy(REPO / "samples" / "bad" / "truncated.tif", inbox / "truncated.tif")
    truth = {json.loads(line)["file"]: json.loads(line) for line in (REPO / "samples" / "truth.jsonl").read_text().splitlines()}
    shas = {p.name: sha256_of(p) for p in inbox.iterdir()}
    with Store(db) as store:
        desk = Desk(store, root / "archive", root / "quarantine", process=Pipeline().process_file)
        desk.recover()
        try:
            Watcher(desk, inbox, settle=0, grace=0, progress=False).run_once()
        finally:
            desk.close()
        files = {name: store.lookup_file(sha) for name, sha in shas.items()}
        truth_by_id = {store.record_ids_of(shas[name])[0]: truth[name]["records"][0]["fields"] for name in FAXES}
        for name in ("tanaka", "sato"):
            store.add_reviewer(name, hash_password(PASSWORD))
        waiting = [r.id for r in store.pending_review()]
    assert len(waiting) >= 4, "the sample faxes should leave records to review"
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), INTAKE_LANG="ja")
    server = subprocess.Popen([sys.executable, "-m", "intake", "review", "serve", "--db", str(db), "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/login", timeout=1)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    yield {"base": base, "db": db, "waiting": waiting, "truth": truth_by_id, "files": files, "server": server}
    server.terminate()
    log = server.communicate(timeout=10)[0]
    for values in truth_by_id.values():  # no personal data in the server's output
        for v in values.values():
            if isinstance(v, str) and len(v) > 4:
                assert v not in log


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Keyboard:
    """Sends keys to whatever has focus, counting them: the reviewer never touches the mouse."""

    def __init__(self, driver):
        from selenium.webdriver.common.action_chains import ActionChains

        self.driver, self.chains, self.count = driver, ActionChains, 0

    def type(self, text: str) -> None:
        self.chains(self.driver).send_keys(text).perform()
        self.count += len(text)

    def press(self, key: str, *, modifier: str | None = None) -> None:
        chain = self.chains(self.driver)
        if modifier:
            chain = chain.key_down(modifier).send_keys(key).key_up(modifier)
        else:
            chain = chain.send_keys(key)
        chain.perform()
        self.count += 1


def login(driver, keys: Keyboard, base: str, name: str) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.get(base + "/")
    assert "/login" in driver.current_url
    keys.type(name)
    keys.press(Keys.TAB)
    keys.type(PASSWORD)
    keys.press(Keys.ENTER)
    wait_for(lambda: "/login" not in driver.current_url)


def wait_for(cond, timeout: float = 10.0):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = cond()
        except (NoSuchElementException, StaleElementReferenceException):
            got = None  # the page is being replaced
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the page")


def typed_text(kind: str, value) -> str | None:
    """What a reviewer types for a true value: None for the keys of a 要/不要 or ○ box."""
    if kind in ("option_pair", "circled_option", "stamp"):
        return None
    return "" if value is None else str(value)


def test_keyboard_review_hold_return_reopen_collision_and_screenshots(station, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, truth = station["base"], station["truth"]
    a, b = browser(), browser()
    try:
        ka = Keyboard(a)
        login(a, ka, base, "tanaka")
        shots = Path(os.environ.get("INTAKE_SCREENSHOTS") or tmp_path)
        assert a.save_screenshot(str(shots / "review-queue.png"))
        assert "確認待ち" in a.find_element(By.ID, "counts").text
        ka.press(Keys.ENTER)  # the queue focuses 'start': the oldest waiting record opens
        wait_for(lambda: "/records/" in a.current_url)
        assert a.save_screenshot(str(shots / "review-record.png"))

        fields = 0
        started = time.perf_counter()
        keys_before = ka.count
        cleared = []
        corrected: dict[str, dict] = {}
        # Clear two records with the keyboard: each flagged field gets the true value, then Ctrl+Enter.
        for _ in range(2):
            rid = a.find_element(By.ID, "record-id").text
            flagged = a.find_elements(By.CSS_SELECTOR, "input.value.flagged")
            assert flagged and a.switch_to.active_element == flagged[0]
            for box in flagged:
                key = box.get_attribute("name")[2:]
                corrected.setdefault(rid, {})[key] = truth[rid].get(key)
                assert a.switch_to.active_element.get_attribute("name") == box.get_attribute("name")
                text = typed_text(box.get_attribute("data-kind"), truth[rid].get(key))
                value = truth[rid].get(key)
                if text is None:
                    ka.press("y" if value else ("n" if value is False else Keys.BACKSPACE))
                else:
                    if text == "":
                        ka.press(Keys.BACKSPACE)
                    else:
                        ka.type(text)
                ka.press(Keys.ENTER)
                fields += 1
            time.sleep(0.4)  # the live check lists any rule the form breaks as written
            if a.find_elements(By.CSS_SELECTOR, "#breaches input[type=checkbox]"):
                ka.press("a", modifier=Keys.ALT)
            ka.press(Keys.ENTER, modifier=Keys.CONTROL)
            wait_for(lambda rid=rid: rid not in a.current_url)
            cleared.append(rid)
        seconds = time.perf_counter() - started
        per_field_keys = (ka.count - keys_before) / fields
        print(f"\nkeyboard review: {fields} flagged fields in {seconds:.1f}s, "
              f"{per_field_keys:.1f} keystrokes and {seconds / fields:.2f}s per flagged field")

        # Hold one (Alt+H, note, Enter), return the next (Alt+R, note, Enter).
        held = a.find_element(By.ID, "record-id").text
        ka.press("h", modifier=Keys.ALT)
        ka.type("お客様確認中")
        ka.press(Keys.ENTER)
        wait_for(lambda: held not in a.current_url)
        returned = a.find_element(By.ID, "record-id").text
        ka.press("r", modifier=Keys.ALT)
        ka.type("FAXが不鮮明")
        ka.press(Keys.ENTER)
        wait_for(lambda: returned not in a.current_url)

        # Two reviewers on one record: the second sees who holds it and cannot decide it.
        contested = a.find_element(By.ID, "record-id").text
        kb = Keyboard(b)
        login(b, kb, base, "sato")
        b.get(f"{base}/records/{contested}")
        assert "tanakaさんが作業中です" in b.find_element(By.ID, "held-by").text
        kb.press(Keys.ENTER, modifier=Keys.CONTROL)
        wait_for(lambda: b.find_elements(By.ID, "message"))
        assert "作業中" in b.find_element(By.ID, "message").text

        # Reopen a confirmed record: it waits again.
        a.get(f"{base}/records/{cleared[0]}")
        assert a.find_element(By.ID, "state").text == "確認済"
        ka.press(Keys.ENTER)  # the reopen button has the focus
        wait_for(lambda: a.find_element(By.ID, "state").text == "未処理")

        with Store(station["db"]) as store:
            assert store.get_record(held).decision == "on_hold" and store.get_record(held).decision_note == "お客様確認中"
            assert store.get_record(returned).decision == "returned"
            assert store.get_record(cleared[1]).decision == "confirmed"
            for rid in cleared:  # what the reviewer typed is what was stored
                assert {k: store.get_record(rid).fields[k].value for k in corrected[rid]} == corrected[rid]
            assert store.get_record(cleared[0]).decision is None
            trail = [x["new_value"] for x in store.audit(cleared[0]) if x["key"] == "#decision"]
            assert trail == ["confirmed", "waiting"]
            assert store.get_record(contested).version == 0  # the collision changed nothing
    finally:
        a.quit()
        b.quit()


def test_unread_fax_is_seen_and_decided_in_the_browser(station):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, files = station["base"], station["files"]
    cover = files["cover.png"]
    assert cover.state == "no_form" and files["truncated.tif"].state == "quarantined"
    d = browser()
    try:
        k = Keyboard(d)
        login(d, k, base, "sato")
        d.get(f"{base}/faxes/{cover.sha256}")
        page = d.find_element(By.CSS_SELECTOR, "img.fax-page")
        assert wait_for(lambda: d.execute_script("return arguments[0].naturalWidth", page)) > 100
        k.type("送付状のみ")  # the note has the focus
        d.find_element(By.ID, "not-a-request").send_keys(Keys.ENTER)
        k.count += 1
        wait_for(lambda: cover.sha256 not in d.current_url)
        with Store(station["db"]) as store:
            assert store.lookup_file(cover.sha256).decision == "not_a_request"
            assert store.lookup_file(files["truncated.tif"].sha256).decision is None  # still waiting
    finally:
        d.quit()


def test_login_is_required_for_every_page_and_image(station):
    base, rid = station["base"], station["waiting"][0]
    sha = station["files"]["cover.png"].sha256
    opener = urllib.request.build_opener(NoRedirect)
    for path in ("/", "/next", f"/records/{rid}", f"/faxes/{sha}", f"/records/{rid}/page.png",
                 f"/records/{rid}/crops/stop.date.png", f"/faxes/{sha}/pages/1.png"):
        try:
            resp = opener.open(base + path, timeout=5)
            status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (302, 401), path


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
