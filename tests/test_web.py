"""The review station over HTTP (Flask test clients on the real store): login, CSRF, leases, versions,
and a 50-record queue cleared by two reviewers at once with no decision lost or doubled."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

import pytest

from intake.review.accounts import hash_password, verify_password
from intake.review.web import create_app
from intake.store import Store
from test_store import make_record

PASSWORD = "correct horse"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "intake.db"
    with Store(path) as s:
        for name in ("tanaka", "sato"):
            s.add_reviewer(name, hash_password(PASSWORD))
    return path


def fill(db, n: int) -> list[str]:
    ids = []
    with Store(db) as s:
        for i in range(n):
            sha = hashlib.sha256(f"fax {i}".encode()).hexdigest()
            ids += s.save_file(sha, f"fax_{i}.tif", [make_record(sha, 1, flagged={"stop.time": "unsure"})])
    return ids


def token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def logged_in(app, name: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token(page)})
    assert resp.status_code == 302
    return client


def test_passwords_are_scrypt_hashes():
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password("wrong one", stored)
    assert not verify_password(PASSWORD, None)


def test_every_page_and_image_needs_a_login_and_every_post_a_csrf_token(db):
    [rid] = fill(db, 1)
    with Store(db) as s:
        s.save_file("ee" * 32, "cover.tif", [])
    app = create_app(db, secret=b"k" * 32)
    anon = app.test_client()
    for url in ("/", "/next", f"/records/{rid}", "/faxes/" + "ee" * 32):
        assert anon.get(url).status_code == 302, url
    for url in (f"/records/{rid}/page.png", f"/records/{rid}/crops/stop.time.png", f"/faxes/{'ee' * 32}/pages/1.png"):
        assert anon.get(url).status_code == 401, url
    assert anon.post("/login", data={"name": "tanaka", "password": PASSWORD}).status_code == 400  # no token
    bad = anon.get("/login")
    assert anon.post("/login", data={"name": "tanaka", "password": "nope", "csrf": token(bad.get_data(as_text=True))}).status_code == 401
    client = logged_in(app, "tanaka")
    assert client.get(f"/records/{rid}/crops/stop.time.png").mimetype == "image/png"
    page = client.get(f"/records/{rid}/page.png")
    assert page.mimetype == "image/png" and page.get_data()[:4] == b"\x89PNG"  # the form, crops in place
    assert client.get(f"/records/{rid}/crops/..%2Fintake.db.png").status_code == 404  # by key, never by path
    assert client.post(f"/records/{rid}/decide", data={"decision": "confirmed", "version": "0"}).status_code == 400
    with Store(db) as s:
        assert s.audit(rid) == []


def test_a_leased_record_is_refused_to_another_reviewer_and_a_stale_edit_is_not_lost(db):
    [rid] = fill(db, 1)
    app = create_app(db, secret=b"k" * 32)
    a, b = logged_in(app, "tanaka"), logged_in(app, "sato")
    page_a = a.get(f"/records/{rid}").get_data(as_text=True)
    page_b = b.get(f"/records/{rid}").get_data(as_text=True)
    assert "tanakaさんが作業中です" in page_b
    assert b.post(f"/api/lease/{rid}", headers={"X-CSRF-Token": token(page_b)}).get_json() == {
        "holder": "tanaka", "mine": False}
    assert a.post(f"/api/lease/{rid}", headers={"X-CSRF-Token": token(page_a)}).get_json()["mine"]
    refused = b.post(f"/records/{rid}/decide", data={"csrf": token(page_b), "version": "0", "decision": "confirmed",
                                                     "v:stop.time": "20:00"})
    assert refused.status_code == 409
    done = a.post(f"/records/{rid}/decide", data={"csrf": token(page_a), "version": "0", "decision": "on_hold",
                                                  "note": "お客様確認中", "v:stop.time": "19:00"})
    assert done.status_code == 302
    # b's page is stale (version 0): the lease is free now, but the version check refuses it.
    stale = b.post(f"/records/{rid}/decide", data={"csrf": token(page_b), "version": "0", "decision": "confirmed",
                                                   "v:stop.time": "20:00"})
    assert stale.status_code == 409 and "他の人が先に変更しました" in stale.get_data(as_text=True)
    with Store(db) as s:
        rec = s.get_record(rid)
        assert rec.decision == "on_hold" and rec.fields["stop.time"].value == "19:00"
        assert [x["reviewer"] for x in s.audit(rid)] == ["tanaka", "tanaka"]


def test_live_check_uses_the_same_rules(db):
    [rid] = fill(db, 1)
    client = logged_in(create_app(db, secret=b"k" * 32), "tanaka")
    page = client.get(f"/records/{rid}").get_data(as_text=True)
    res = client.post("/api/check/teledome_stop_request", headers={"X-CSRF-Token": token(page)},
                      json={"record": rid, "values": {"stop.weekday": "月", "sent_date": "R8.1.22"}}).get_json()
    assert [b["code"] for b in res["breaches"]] == ["rule:weekday_matches_date"] and not res["invalid"]
    assert "曜日が日付と合いません" in res["fields"]["stop.weekday"][0]


def test_fifty_records_cleared_by_two_reviewers_at_once_none_lost_none_doubled(db):
    ids = fill(db, 50)
    app = create_app(db, secret=b"k" * 32)
    decided: dict[str, list[str]] = {"tanaka": [], "sato": []}
    conflicts = []

    def reviewer(name: str) -> None:
        client = logged_in(app, name)
        while True:
            resp = client.get("/next")
            m = re.search(r"/records/([0-9a-f]+-\d+)$", resp.headers["Location"])
            if not m:
                return
            rid = m.group(1)
            page = client.get(f"/records/{rid}").get_data(as_text=True)
            version = re.search(r'name="version" value="(\d+)"', page).group(1)
            resp = client.post(f"/records/{rid}/decide", data={"csrf": token(page), "version": version,
                                                               "decision": "confirmed", "v:stop.time": "18:00"})
            if resp.status_code == 302:
                decided[name].append(rid)
            else:
                conflicts.append(rid)

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in decided]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    both = decided["tanaka"] + decided["sato"]
    assert sorted(both) == sorted(ids) and len(set(both)) == 50
    with Store(db) as s:
        rows = [a for a in s.audit() if a["key"] == "#decision"]
        assert len(rows) == 50 and len({a["record_id"] for a in rows}) == 50
        assert s.pending_review() == []
    print(f"\n50-record queue: tanaka {len(decided['tanaka'])}, sato {len(decided['sato'])}, "
          f"refused collisions {len(conflicts)}, decisions audited {len(rows)}")


def test_an_unread_fax_keyed_by_hand_becomes_a_checked_audited_record(db):
    from test_store import VALUES

    with Store(db) as s:
        s.save_file("ee" * 32, "no_form.tif", [])
    client = logged_in(create_app(db, secret=b"k" * 32), "tanaka")
    page = client.get("/faxes/" + "ee" * 32).get_data(as_text=True)
    assert "依頼書のページが見つかりません" in page and 'name="v:stop.date"' in page
    typed = {f"v:{k}": ("" if v is None else ("要" if v else "不要") if isinstance(v, bool) else str(v))
             for k, v in VALUES.items()}
    for k in ("stop.free", "resume.free", "office_use.received", "office_use.stopped", "office_use.started"):
        typed[f"v:{k}"] = "×"
    form = {"csrf": token(page), "version": "0", "form": "teledome_stop_request", "decision": "keyed",
            "note": "手入力"}
    bad = client.post("/faxes/" + "ee" * 32 + "/decide", data=form | typed | {"v:stop.weekday": "月"})
    assert bad.status_code == 409 and "rule:weekday_matches_date" in bad.get_data(as_text=True)
    done = client.post("/faxes/" + "ee" * 32 + "/decide", data=form | typed)
    assert done.status_code == 302
    with Store(db) as s:
        [rid] = s.record_ids_of("ee" * 32)
        rec = s.get_record(rid)
        assert rec.decision == "confirmed" and rec.values() == VALUES and rec.reviewer == "tanaka"
        assert s.lookup_file("ee" * 32).decision == "keyed"
        assert {a["key"] for a in s.audit(rid)} >= {"sent_date", "customer_contact.phone", "#decision"}


def test_a_page_that_could_not_be_aligned_is_shown_as_the_fax_page_itself(db):
    import dataclasses
    import shutil

    import cv2
    import numpy as np

    repo = Path(__file__).resolve().parents[1]
    rec = dataclasses.replace(make_record("ab" * 32, 1, flagged={"stop.time": "unsure"}), crops={})
    with Store(db) as s:
        [rid] = s.save_file("ab" * 32, "fax_0001.tif", [rec])
        copy = db.parent / "archive" / "fax_0001.tif"
        copy.parent.mkdir()
        shutil.copy(repo / "samples" / "fax_0001.tif", copy)
        s.set_stored_path("ab" * 32, copy)
    client = logged_in(create_app(db, secret=b"k" * 32), "tanaka")
    png = client.get(f"/records/{rid}/page.png").get_data()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    from intake.ingest import load_pages
    from intake.review.images import MAX_WIDTH

    page = load_pages(repo / "samples" / "fax_0001.tif")[0].image
    assert image.shape[1] == min(MAX_WIDTH, page.shape[1])  # the fax page, not the blank form
