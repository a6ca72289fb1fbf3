"""The evidence stage: a posterior over candidate readings that weighs the readers with what the record proves."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import samplegen
from intake.align import align_to_template
from intake.classify import classify_page
from intake.evidence import WEEKDAY_SLIP, Belief, joint_posterior, numbering_plan_allows, settle
from intake.ingest import to_square_pixels
from intake.kinds import read_fields
from intake.kinds.weekday import WEEKDAYS
from intake.model import FieldReading, Page, SourceRef
from intake.pipeline import Pipeline
from intake.readers import default_engines
from intake.reasons import Reason

DAY0 = dt.date(2026, 4, 1)


def _readings(template, **given: FieldReading) -> dict[str, FieldReading]:
    blank = {f.key: FieldReading(f.key, None, 0.99) for f in template.fields}
    return blank | {r.key: r for r in given.values()}


def _date_field(key: str, candidates: list[tuple[str, float]]) -> FieldReading:
    return FieldReading(key, candidates[0][0], candidates[0][1], (), None, tuple(candidates))


shares = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5).map(lambda ws: [w / max(1.0, sum(ws)) for w in ws])
dates = st.integers(0, 120).map(lambda n: (DAY0 + dt.timedelta(days=n)).isoformat())


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(dates, st.floats(0.0, 1.0)), min_size=1, max_size=5, unique_by=lambda t: t[0]),
       st.lists(st.tuples(dates, st.floats(0.0, 1.0)), min_size=1, max_size=5, unique_by=lambda t: t[0]),
       st.sampled_from(WEEKDAYS))
def test_posterior_shares_and_the_unlisted_rest_sum_to_one(template, stop, sent, weekday):
    def normalised(c):
        total = max(1.0, sum(w for _, w in c))
        return sorted(((v, w / total) for v, w in c), key=lambda vw: -vw[1])

    stop, sent = normalised(stop), normalised(sent)
    readings = _readings(template, stop=_date_field("stop.date", stop), sent=_date_field("sent_date", sent),
                         weekday=FieldReading("stop.weekday", weekday, 0.99))
    out = settle(readings, template)
    for key in ("stop.date", "sent_date"):
        shares_ = [p for _, p in out[key].candidates]
        assert all(0.0 <= p <= 1.0 + 1e-9 for p in shares_)
        assert sum(shares_) <= 1.0 + 1e-9
        if out[key].candidates:
            assert out[key].value == out[key].candidates[0][0]
            assert abs(out[key].confidence - max(shares_)) < 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6), st.lists(st.integers(0, 1), min_size=1, max_size=3))
def test_joint_marginals_with_the_unlisted_rest_sum_to_one(weights, which):
    total = sum(weights) + 0.1
    values = tuple((f"v{i}", w / total) for i, w in enumerate(weights))
    beliefs = {"a": Belief(values, 0.1 / total), "b": Belief(values[:2], 1 - sum(w for _, w in values[:2]))}
    factor = ("f", ("a", "b"), lambda v: 0.5 if v["a"] == v["b"] else 1.0)
    post = joint_posterior(beliefs, [factor] * len(which))
    for b in post.values():
        assert abs(sum(w for _, w in b.values) + b.other - 1.0) < 1e-9


def test_a_candidate_that_breaks_a_hard_constraint_gets_nothing(template):
    impossible = FieldReading("stop.date", "2026-02-30", 0.7, (), None, (("2026-02-30", 0.7), ("2026-02-20", 0.29)))
    phone = FieldReading("customer_contact.phone", "03-123-4567", 0.6, (), None,
                         (("03-123-4567", 0.6), ("03-1234-5678", 0.39)))
    out = settle(_readings(template, d=impossible, p=phone), template)
    assert dict(out["stop.date"].candidates).keys() == {"2026-02-20"} and out["stop.date"].value == "2026-02-20"
    assert "03-123-4567" not in dict(out["customer_contact.phone"].candidates)
    assert out["customer_contact.phone"].value == "03-1234-5678"


def test_the_numbering_plan():
    assert numbering_plan_allows("03-1234-5678") and numbering_plan_allows("0743-12-3456")
    assert numbering_plan_allows("090-1234-5678") and numbering_plan_allows("0120-123-456")
    assert not numbering_plan_allows("090-123-5678"), "a mobile number is 3-4-4"
    assert not numbering_plan_allows("03-123-4567"), "a geographic number has ten digits"
    assert not numbering_plan_allows("03-0234-5678"), "a local code does not start with 0"
    assert not numbering_plan_allows("0120-1234-567")


@settings(max_examples=60, deadline=None)
@given(st.floats(0.9995, 0.99999), dates)
def test_agreeing_confident_readers_pass_unchanged(template, share, date):
    weekday = WEEKDAYS[dt.date.fromisoformat(date).weekday()]
    reading = _date_field("stop.date", [(date, share)])
    out = settle(_readings(template, d=reading, w=FieldReading("stop.weekday", weekday, 0.99)), template)
    assert out["stop.date"].value == date
    assert out["stop.date"].confidence >= share - 1e-9
    assert not out["stop.date"].notes


@settings(max_examples=60, deadline=None)
@given(dates, st.integers(1, 6), st.floats(0.3, 0.7))
def test_the_weekday_the_writer_gave_picks_the_date_among_two_candidates(template, right, offset, share):
    wrong = (dt.date.fromisoformat(right) + dt.timedelta(days=offset)).isoformat()  # another weekday
    weekday = WEEKDAYS[dt.date.fromisoformat(right).weekday()]
    disputed = _date_field("stop.date", sorted([(wrong, share), (right, 0.999 - share)], key=lambda vw: -vw[1]))
    out = settle(_readings(template, d=disputed, w=FieldReading("stop.weekday", weekday, 0.99)), template)
    assert out["stop.date"].value == right
    # The checksum is worth what the writers' slips leave of it, no more.
    ratio = (1 - WEEKDAY_SLIP) / (WEEKDAY_SLIP / 6) * (0.999 - share) / share
    assert abs(out["stop.date"].confidence - 0.999 * ratio / (1 + ratio)) < 1e-3


def test_a_disputed_reading_settled_by_evidence_says_which(template):
    note = Reason.of("readers_disagree", "stop.date", part="day", first="1", second="11")
    reading = FieldReading("stop.date", "2026-05-01", 0.6, (), None, (("2026-05-01", 0.6), ("2026-05-11", 0.4)), notes=(note,))
    out = settle(_readings(template, d=reading, w=FieldReading("stop.weekday", "月", 0.99)), template)  # 2026-05-11 is a Monday
    settled = out["stop.date"]
    assert settled.value == "2026-05-11" and not settled.reasons
    assert [n.code for n in settled.notes] == ["readers_disagree", "settled_by_evidence"]
    assert settled.notes[1].get("evidence") == "weekday"


def test_dates_out_of_order_lose_to_dates_in_order(template):
    sent = _date_field("sent_date", [("2026-05-10", 0.999)])
    stop = _date_field("stop.date", [("2026-05-01", 0.55), ("2026-05-11", 0.44)])
    out = settle(_readings(template, s=sent, d=stop), template)
    assert out["stop.date"].value == "2026-05-11"
    assert "date_order" in out["stop.date"].notes[-1].get("evidence")


# -- on a real generated fax, read by the real readers ---------------------------------------
@pytest.fixture(scope="module")
def read_fax(template):
    """(truth, the readers' readings, aligned page) of one freshly generated, faxed form."""
    rng = np.random.default_rng(4242)
    values = samplegen.random_values(rng)
    image = samplegen.make_form_image(values, rng, "test")
    faxed, dpi = samplegen.fax_channel(image, rng, "fine", flip=False)
    square, sq_dpi = to_square_pixels(faxed, dpi)
    page = Page(square, sq_dpi, SourceRef("gen", 1, "0" * 64), dpi)
    aligned = align_to_template(page, classify_page(page, [template]), template)
    received = dt.date.fromisoformat(values.truth["sent_date"])
    return values.truth, read_fields(aligned, template, default_engines(), received), aligned


def _disputed(reading: FieldReading, leading: str, share: float, part: str | None = None) -> FieldReading:
    """The reading as the readers give it when they disagree: ``leading`` ahead with ``share``,
    the value read behind it with the rest (and the readers' disagreement noted)."""
    where = {"part": part} if part else {}
    note = Reason.of("readers_disagree", reading.key, **where, first="?", second="?")
    return replace(reading, value=leading, candidates=((leading, share), (reading.value, 0.999 - share)), notes=(note,))


def test_a_disagreement_the_weekday_settles_is_not_flagged_and_shows_the_written_date(template, read_fax):
    truth, readings, aligned = read_fax
    assert readings["stop.date"].value == truth["stop.date"], "the readers read this fax's stop date right"
    written = dt.date.fromisoformat(truth["stop.date"])
    assert truth["stop.weekday"] == WEEKDAYS[written.weekday()], "the writer gave the date's own weekday"
    misread = (written + dt.timedelta(days=10 if written.day <= 18 else -10)).isoformat()  # a day's tens misread: another weekday
    # The readers disagree: one reads the day's tens as written, the other not; together they
    # give the written date 9 parts in 10, too little to pass on their word alone.
    disputed = _disputed(readings["stop.date"], truth["stop.date"], 0.9, part="day")
    disputed = replace(disputed, candidates=((truth["stop.date"], 0.9), (misread, 0.099)))
    blind = Pipeline().decide(aligned, template, readings | {"stop.date": disputed, "stop.weekday": replace(readings["stop.weekday"], value=None)})
    assert blind.fields["stop.date"].review, "without the weekday the dispute stays open"
    record = Pipeline().decide(aligned, template, readings | {"stop.date": disputed})
    stop = record.fields["stop.date"]
    assert stop.value == truth["stop.date"]
    assert not stop.review, [r.code for r in stop.reasons]
    assert stop.notes[-1].code == "settled_by_evidence" and "weekday" in stop.notes[-1].get("evidence").split(",")
    assert {"readers_disagree", "settled_by_evidence"} <= {n["code"] for n in record.to_json()["review"]["notes"]}


def test_a_number_with_two_plausible_candidates_stays_flagged_naming_both(template, read_fax):
    truth, readings, aligned = read_fax
    key = "targets.0.teledome_number"
    assert readings[key].value == truth[key]
    other = truth[key][:-1] + str((int(truth[key][-1]) + 5) % 10)
    readings = readings | {key: _disputed(readings[key], other, 0.55)}
    record = Pipeline().decide(aligned, template, readings)
    flagged = record.fields[key]
    assert [r.code for r in flagged.reasons] == ["low_posterior"]
    assert flagged.reasons[0].get("candidates") == f"{other} / {truth[key]}"
    assert flagged.value == other and record.review_needed


def test_a_sending_date_far_from_the_day_the_fax_arrived_loses_to_one_near_it(template):
    sent = _date_field("sent_date", [("2026-05-01", 0.6), ("2026-05-11", 0.39)])
    out = settle(_readings(template, s=sent), template, received=dt.date(2026, 5, 11))
    assert out["sent_date"].value == "2026-05-11"
    assert "received" in out["sent_date"].notes[-1].get("evidence").split(",")
    assert settle(_readings(template, s=sent), template)["sent_date"].value == "2026-05-01", "no arrival day, no evidence"
