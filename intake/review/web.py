"""The review web station: a Flask app served by waitress on 127.0.0.1 unless told otherwise.

Every page and image needs a login (local reviewers, scrypt-hashed passwords); every POST carries
the session's CSRF token; a record opened by one reviewer is leased to them for ``LEASE_SECONDS``
so that two reviewers do not work on it at once, and a decision names the version it was made on,
so that an edit is never silently lost when they still collide. Images are served by record id and
field key (or fax id and page), never by path. The server writes no request log: URLs carry only
record ids, and nothing else is logged.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, session, url_for

from intake.errors import IntakeError, ReviewError, VersionConflict
from intake.review import decisions, images, words
from intake.review.accounts import verify_password
from intake.review.queue import counts
from intake.messages import show_value
from intake.private import create_private, make_private_dir
from intake.store import Store, default_db_path

LEASE_SECONDS = 300
BOOL_KINDS = ("option_pair", "circled_option", "stamp")


def _secret_key(db_path: Path) -> bytes:
    """A per-installation key for signing session cookies, kept owner-only beside the store."""
    path = make_private_dir(db_path.parent) / "review-secret.key"
    if not path.exists():
        with open(create_private(path), "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def create_app(db: str | Path | None = None, *, lang: str = "ja", secret: bytes | None = None) -> Flask:
    db_path = Path(db) if db else default_db_path()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret or _secret_key(db_path), SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=1 << 20, DB_PATH=db_path, LANG=lang,
    )
    from intake.template import load_templates

    templates = {t.id: t for t in load_templates()}

    def store() -> Store:
        if "store" not in g:
            g.store = Store(db_path)
        return g.store

    @app.teardown_appcontext
    def _close(exc) -> None:
        s = g.pop("store", None)
        if s is not None:
            s.close()

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    @app.before_request
    def _check_csrf():
        if request.method == "POST":
            sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
            if not hmac.compare_digest(sent, session.get("csrf", "")) or not session.get("csrf"):
                abort(400, "CSRF token missing or wrong; reload the page")

    def login_required(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not session.get("user"):
                if request.path.startswith("/api/") or request.path.endswith(".png"):
                    abort(401)
                return redirect(url_for("login", next=request.path))
            return view(*args, **kwargs)

        return wrapped

    @app.context_processor
    def _words():
        language = session.get("lang") or app.config["LANG"]
        return {"t": words.UI[language], "lang": language, "csrf": csrf_token(), "user": session.get("user"),
                "state_word": lambda s: words.state_word(s, language)}

    def lang() -> str:
        return session.get("lang") or app.config["LANG"]

    @app.get("/login")
    def login():
        return render_template("login.html", error=None, next=request.args.get("next", "/"))

    @app.post("/login")
    def login_post():
        name = request.form.get("name", "").strip()
        if not verify_password(request.form.get("password", ""), store().reviewer_hash(name)):
            return render_template("login.html", error=words.UI[lang()]["bad_login"], next="/"), 401
        session.clear()
        session["user"] = name
        nxt = request.form.get("next") or "/"
        return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    @app.get("/lang/<code>")
    @login_required
    def set_lang(code: str):
        if code in words.UI:
            session["lang"] = code
        return redirect(request.referrer or "/")

    @app.get("/")
    @login_required
    def queue():
        s = store()
        items = [{"kind": "record", "id": r.id, "at": r.created, "reasons": words.say_all(r.reasons, lang(), templates.get(r.form))[:3],
                  "holder": s.lease_holder(r.id)} for r in s.pending_review()]
        items += [{"kind": "fax", "id": f.sha256, "at": f.received, "reasons": [words.unread_reason(f.reason, lang())],
                   "holder": s.lease_holder("file:" + f.sha256)} for f in s.unread_files()]
        items.sort(key=lambda i: (i["at"], i["id"]))
        held = s.decided("on_hold")
        decided = s.decided("confirmed")[-20:] + s.decided("returned")[-20:]
        return render_template("queue.html", items=items, held=held, decided=decided, counts=counts(s))

    def next_url(after: str | None = None) -> str:
        """The oldest waiting item nobody else holds, leased to this reviewer on the way (so two
        reviewers asking at once are sent to different records)."""
        s, me = store(), session["user"]
        for r in s.pending_review():
            if r.id != after and s.take_lease(r.id, me, LEASE_SECONDS) == me:
                if decisions.state_of(s.get_record(r.id)) == "waiting":  # not decided while we looked
                    return url_for("record_page", rid=r.id)
                s.release_lease(r.id, me)
        for f in s.unread_files():
            if s.take_lease("file:" + f.sha256, me, LEASE_SECONDS) == me:
                return url_for("fax_page", sha=f.sha256)
        return url_for("queue")

    @app.get("/next")
    @login_required
    def next_item():
        return redirect(next_url())

    def stored_pages(row) -> list:
        """The pages of a stored fax (archived or quarantined), or none if they cannot be decoded."""
        if row is None or not row.stored_path:
            return []
        try:
            return images.fax_pages(store().resolve(row.stored_path))
        except IntakeError:
            return []

    def record_or_404(rid: str):
        rec = store().get_record(rid)
        if rec is None or rec.form not in templates:
            abort(404)
        return rec, templates[rec.form]

    def field_rows(rec, template) -> list[dict]:
        rows = []
        for spec in template.fields:
            f = rec.fields.get(spec.key)
            flagged = bool(f and f.review and decisions.state_of(rec) == "waiting")
            rows.append({"key": spec.key, "label": words.field_label(template, spec.key, lang()), "kind": spec.kind,
                         "value": show_value(spec.kind, f.value if f else None), "flagged": flagged,
                         "reasons": words.say_all(f.reasons if f else (), lang(), template),
                         "crop": bool(f and f.crop_path)})
        return sorted(rows, key=lambda r: not r["flagged"])

    def record_level(rec) -> list:
        """Reasons that belong to no field (the page could not be aligned, no target at all)."""
        on_fields = {r for f in rec.fields.values() for r in f.reasons}
        return [r for r in rec.reasons if r not in on_fields]

    @app.get("/records/<rid>")
    @login_required
    def record_page(rid: str):
        rec, template = record_or_404(rid)
        state = decisions.state_of(rec)
        holder = store().take_lease(rid, session["user"], LEASE_SECONDS) if state == "waiting" else None
        breaches = [{"code": r.code, "text": words.say(r, lang(), template)}
                    for r in decisions.breaches(template, rec.values()) if decisions.acceptable(r)]
        return render_template("record.html", rec=rec, state=state, rows=field_rows(rec, template), breaches=breaches,
                               holder=holder if holder and holder != session["user"] else None,
                               record_reasons=words.say_all(record_level(rec), lang(), template), audit=store().audit(rid))

    @app.get("/records/<rid>/page.png")
    @login_required
    def record_image(rid: str):
        """The form with the record's crops in place; for a page that could not be aligned (no crops)
        the fax page itself, rendered from the stored file."""
        rec, template = record_or_404(rid)
        if any(f.crop_path for f in rec.fields.values()):
            image = images.record_page(template, rec)
        else:
            pages = stored_pages(store().lookup_file(rec.file_sha256))
            image = pages[rec.page - 1] if 0 < rec.page <= len(pages) else images.record_page(template, rec)
        return Response(images.png(image), mimetype="image/png", headers={"Cache-Control": "private, no-store"})

    @app.get("/records/<rid>/crops/<key>.png")
    @login_required
    def crop_image(rid: str, key: str):
        rec, _ = record_or_404(rid)
        f = rec.fields.get(key)
        data = images.crop_png(f.crop_path if f else None)
        if data is None:
            abort(404)
        return Response(data, mimetype="image/png", headers={"Cache-Control": "private, no-store"})

    def typed_values(template) -> dict[str, str]:
        return {spec.key: request.form[f"v:{spec.key}"] for spec in template.fields if f"v:{spec.key}" in request.form}

    def check_json(template, typed: dict[str, str], base: dict[str, Any]) -> dict:
        values, problems = decisions.parse_typed(template, typed)
        found = problems + decisions.breaches(template, base | values)
        by_field: dict[str, list[str]] = {}
        for r in found:
            for k in r.fields:
                by_field.setdefault(k, []).append(words.say(r, lang(), template))
        return {"fields": by_field,
                "breaches": [{"code": r.code, "text": words.say(r, lang(), template), "acceptable": decisions.acceptable(r)}
                             for r in found],
                "invalid": not all(decisions.acceptable(r) for r in found)}

    @app.post("/api/check/<form>")
    @login_required
    def api_check(form: str):
        template = templates.get(form) or abort(404)
        body = request.get_json(silent=True) or {}
        typed = {k: v for k, v in (body.get("values") or {}).items() if isinstance(v, str) or v is None}
        rec = store().get_record(body["record"]) if body.get("record") else None
        base = rec.values() if rec else {spec.key: None for spec in template.fields}
        return jsonify(check_json(template, typed, base))

    @app.post("/api/lease/<rid>")
    @login_required
    def renew_lease(rid: str):
        """Kept alive by an open record page: the reviewer still holds it (or learns who does)."""
        record_or_404(rid)
        holder = store().take_lease(rid, session["user"], LEASE_SECONDS)
        return jsonify({"holder": holder, "mine": holder == session["user"]})

    def conflict(message: str):
        return render_template("message.html", message=message), 409

    @app.post("/records/<rid>/decide")
    @login_required
    def decide_record(rid: str):
        rec, template = record_or_404(rid)
        me = session["user"]
        holder = store().take_lease(rid, me, LEASE_SECONDS)
        if holder != me:
            return conflict(words.UI[lang()]["held_by"].format(who=holder))
        values, problems = decisions.parse_typed(template, typed_values(template))
        if problems:
            return conflict("; ".join(words.say(p, lang(), template) for p in problems))
        changes = {k: v for k, v in values.items() if v != rec.fields[k].value} if values else {}
        try:
            version = int(request.form.get("version", ""))
        except ValueError:
            abort(400)
        d = decisions.Decision(request.form.get("decision", ""), me, changes, request.form.get("note") or None,
                               tuple(request.form.getlist("accept")), version)
        try:
            decisions.decide(store(), template, rid, d)
        except VersionConflict:
            return conflict(words.UI[lang()]["conflict"])
        except ReviewError as exc:
            return conflict(str(exc))
        store().release_lease(rid, me)
        return redirect(next_url(after=rid))

    @app.post("/records/<rid>/reopen")
    @login_required
    def reopen_record(rid: str):
        record_or_404(rid)
        try:
            decisions.reopen(store(), rid, session["user"], note=request.form.get("note") or None,
                             version=int(request.form.get("version", "-1")))
        except VersionConflict:
            return conflict(words.UI[lang()]["conflict"])
        except ReviewError as exc:
            return conflict(str(exc))
        return redirect(url_for("record_page", rid=rid))

    # -- unread faxes ---------------------------------------------------------------

    def fax_or_404(sha: str):
        row = store().lookup_file(sha)
        if row is None or row.state not in ("no_form", "quarantined"):
            abort(404)
        return row

    @app.get("/faxes/<sha>")
    @login_required
    def fax_page(sha: str):
        row = fax_or_404(sha)
        holder = store().take_lease("file:" + sha, session["user"], LEASE_SECONDS) if row.decision is None else None
        pages = len(stored_pages(row))
        template = next(iter(templates.values()))
        rows = [{"key": s.key, "label": words.field_label(template, s.key, lang()), "kind": s.kind, "value": "",
                 "flagged": False, "reasons": [], "crop": False} for s in template.fields]
        return render_template("fax.html", fax=row, pages=pages, rows=rows, form=template.id,
                               holder=holder if holder and holder != session["user"] else None,
                               audit=store().file_audit(sha), unread_reason=words.unread_reason(row.reason, lang()))

    @app.get("/faxes/<sha>/pages/<int:n>.png")
    @login_required
    def fax_image(sha: str, n: int):
        row = fax_or_404(sha)
        pages = stored_pages(row)
        if not 1 <= n <= len(pages):
            abort(404)
        return Response(images.png(pages[n - 1]), mimetype="image/png", headers={"Cache-Control": "private, no-store"})

    @app.post("/faxes/<sha>/decide")
    @login_required
    def decide_fax(sha: str):
        row = fax_or_404(sha)
        me = session["user"]
        holder = store().take_lease("file:" + sha, me, LEASE_SECONDS)
        if holder != me:
            return conflict(words.UI[lang()]["held_by"].format(who=holder))
        template = templates[request.form.get("form", "")] if request.form.get("form") in templates else None
        try:
            decisions.decide_unread(store(), template, sha, request.form.get("decision", ""), me,
                                    note=request.form.get("note") or None,
                                    typed=typed_values(template) if template else None,
                                    accept=tuple(request.form.getlist("accept")),
                                    version=int(request.form.get("version", row.version)))
        except VersionConflict:
            return conflict(words.UI[lang()]["conflict"])
        except ReviewError as exc:
            return conflict(str(exc))
        store().release_lease("file:" + sha, me)
        return redirect(next_url())

    @app.post("/faxes/<sha>/reopen")
    @login_required
    def reopen_fax(sha: str):
        fax_or_404(sha)
        try:
            decisions.reopen_unread(store(), sha, session["user"], note=request.form.get("note") or None)
        except ReviewError as exc:
            return conflict(str(exc))
        return redirect(url_for("fax_page", sha=sha))

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self'")
        return resp

    return app


def serve(db: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8765, threads: int = 8,
          lang: str | None = None) -> None:
    """Serve the station with waitress (a production WSGI server; no request log is written)."""
    import waitress

    from intake.messages import language

    app = create_app(db, lang=language(lang))
    print(f"intake review: http://{host}:{port}/", flush=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="intake-review")
