"""Validation rules, with property tests over generated values."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from intake.kinds.parts import check_phone
from intake.kinds.weekday import WEEKDAYS
from intake.messages import render
from intake.model import FieldReading
from intake.reasons import InvalidValue, Reason
from intake.validate import check_values, parse_value, validate_record

settings.register_profile("ci", max_examples=60, deadline=None)
settings.load_profile("ci")


def named(problems: tuple[Reason, ...]) -> set[str]:
    """Every field some problem names."""
    return {k for p in problems for k in p.fields}


def good_values(stop=dt.date(2026, 12, 1), resume=dt.date(2026, 12, 3), sent=dt.date(2026, 11, 28)):
    return {
        "sent_date": sent.isoformat(),
        "contractor_name": "株式会社山田商事",
        "targets.0.teledome_number": "0180-99-1234",
        "targets.0.plan_number": "4-1234-56",
        "stop.date": stop.isoformat(),
        "stop.weekday": WEEKDAYS[stop.weekday()],
        "stop.time": "10:00",
        "stop.free": False,
        "resume.date": resume.isoformat(),
        "resume.weekday": WEEKDAYS[resume.weekday()],
        "resume.time": None,
        "resume.free": True,
        **{f"notify.{w}.{k}": True for w in ("before_stop", "after_stop", "before_resume", "after_resume") for k in ("customer", "sales")},
        "customer_contact.phone": "03-1234-5678",
    }


def test_a_complete_request_passes(template):
    assert check_values(template, good_values()) == ()


dates = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2028, 12, 31))


@given(stop=dates, gap=st.integers(min_value=1, max_value=60), lead=st.integers(min_value=0, max_value=30))
def test_any_consistent_request_passes(template, stop, gap, lead):
    values = good_values(stop=stop, resume=stop + dt.timedelta(days=gap), sent=stop - dt.timedelta(days=lead))
    assert check_values(template, values) == ()


@given(stop=dates, shift=st.integers(min_value=1, max_value=6))
def test_a_wrong_weekday_is_reported_as_written(template, stop, shift):
    values = good_values(stop=stop, resume=stop + dt.timedelta(days=2), sent=stop)
    written = WEEKDAYS[(stop.weekday() + shift) % 7]
    values["stop.weekday"] = written
    problems = check_values(template, values)
    # Either may be the misreading: one reason names both, with the values compared.
    assert problems == (Reason.of("rule:weekday_matches_date", ("stop.date", "stop.weekday"), date=stop.isoformat(),
                                  actual=WEEKDAYS[stop.weekday()], written=written),)


@given(stop=dates, back=st.integers(min_value=0, max_value=30))
def test_restart_must_come_after_stop(template, stop, back):
    values = good_values(stop=stop, resume=stop - dt.timedelta(days=back), sent=stop - dt.timedelta(days=40))
    values["resume.free"], values["resume.time"] = False, "10:00"
    problems = check_values(template, values)
    assert [p.code for p in problems] == ["rule:after"]
    assert problems[0].fields == ("resume.date", "resume.time", "stop.date", "stop.time")


@given(st.integers(min_value=1, max_value=30))
def test_stop_before_sending_is_flagged(template, days):
    stop = dt.date(2026, 12, 1)
    values = good_values(stop=stop, sent=stop + dt.timedelta(days=days), resume=stop + dt.timedelta(days=2))
    problems = check_values(template, values)
    assert [p.code for p in problems] == ["rule:not_before"]
    assert problems[0].fields == ("stop.date", "sent_date")
    assert problems[0].params == {"later": stop.isoformat(), "earlier": (stop + dt.timedelta(days=days)).isoformat()}


@given(y=st.integers(2026, 2030), m=st.integers(1, 12), d=st.integers(29, 31))
def test_impossible_dates_are_rejected(template, y, m, d):
    try:
        dt.date(y, m, d)
        real = True
    except ValueError:
        real = False
    values = good_values()
    values["sent_date"] = f"{y:04d}-{m:02d}-{d:02d}"
    values["stop.date"], values["resume.date"] = "2031-01-01", "2031-01-02"
    values["stop.weekday"], values["resume.weekday"] = WEEKDAYS[dt.date(2031, 1, 1).weekday()], WEEKDAYS[dt.date(2031, 1, 2).weekday()]
    problems = check_values(template, values)
    assert problems == (() if real else (Reason.of("not_a_date", "sent_date", value=values["sent_date"]),))


@given(h=st.integers(0, 30), m=st.integers(0, 70))
def test_times_must_be_times_of_day(template, h, m):
    values = good_values()
    values["stop.time"] = f"{h:02d}:{m:02d}"
    problems = check_values(template, values)
    assert ("not_a_time" in [p.code for p in problems]) == (h > 23 or m > 59)
    assert ("stop.time" in named(problems)) == (h > 23 or m > 59)


def test_time_and_free_are_exclusive(template):
    both = good_values()
    both["stop.free"] = True
    assert check_values(template, both) == (Reason.of("rule:exactly_one", ("stop.time", "stop.free"), given=2),)
    neither = good_values()
    neither["stop.time"] = None
    assert check_values(template, neither) == (Reason.of("rule:exactly_one", ("stop.time", "stop.free"), given=0),)


@given(prefix=st.sampled_from(["090", "080", "070"]), a=st.integers(0, 9999), b=st.integers(0, 9999))
def test_mobile_numbers_have_eleven_digits(prefix, a, b):
    assert check_phone(f"{prefix}-{a:04d}-{b:04d}")
    with pytest.raises(InvalidValue) as short:
        check_phone(f"{prefix}-{a:04d}-{b:04d}"[:-1])
    assert short.value.reason.code == "phone_digit_count" and short.value.reason.get("expected") == 11


@given(area=st.sampled_from(["03", "06", "045", "0465", "0120"]), rest=st.integers(0, 10**8))
def test_fixed_numbers_have_ten_digits(area, rest):
    local_len = {2: 4, 3: 3, 4: 2}[len(area)] if area != "0120" else 3
    digits = f"{rest:08d}"[: 10 - len(area)]
    phone = f"{area}-{digits[:local_len]}-{digits[local_len:]}"
    assert check_phone(phone) == phone
    # One digit more is a number no fixed line has.
    with pytest.raises(InvalidValue) as long:
        check_phone(area + "0" + phone[len(area):])
    assert long.value.reason.params == {"value": area + "0" + phone[len(area):], "count": 11, "expected": 10}


@given(st.text(alphabet="0123456789", min_size=1, max_size=3))
def test_short_teledome_numbers_are_rejected(template, digits):
    values = good_values()
    values["targets.0.teledome_number"] = f"0180-99-{digits}"
    problems = check_values(template, values)
    assert Reason.of("format_mismatch", "targets.0.teledome_number", value=f"0180-99-{digits}", format="0180-99-{0}") in problems


def test_a_half_filled_target_row_is_flagged(template):
    values = good_values()
    values["targets.1.teledome_number"] = "0180-99-5555"
    assert check_values(template, values) == (
        Reason.of("rule:row_complete", ("targets.1.teledome_number", "targets.1.plan_number")),)


def test_no_target_names_every_target_number(template):
    values = good_values()
    values["targets.0.teledome_number"] = values["targets.0.plan_number"] = None
    assert check_values(template, values) == (
        Reason.of("rule:at_least_one", tuple(f"targets.{i}.teledome_number" for i in range(4))),)


def test_validate_record_flags_the_named_field(template):
    readings = {k: FieldReading(k, v, 0.99) for k, v in good_values().items()}
    readings.update({f.key: FieldReading(f.key, None, 0.99) for f in template.fields if f.key not in readings})
    readings["stop.weekday"] = FieldReading("stop.weekday", "日", 0.99)
    out, record_reasons = validate_record(template, readings)
    # One breach, one reason: the same reason on both fields it names, listed once for the record.
    assert out["stop.weekday"].reasons == out["stop.date"].reasons
    assert [r.code for r in out["stop.date"].reasons] == ["rule:weekday_matches_date"]
    assert not out["resume.date"].review and not out["resume.weekday"].review
    assert record_reasons == ()


def test_a_rule_breach_reads_in_japanese_with_the_printed_labels(template):
    values = good_values(stop=dt.date(2026, 12, 1))
    values["stop.weekday"] = "月"
    (reason,) = check_values(template, values)
    labels = {f.key: f.label for f in template.fields}
    assert render(reason, "ja", labels) == "停止日、停止曜日: 曜日が日付と合いません (2026-12-01 は火曜日、記入は月)"
    assert render(reason, "en", labels) == (
        "停止日, 停止曜日: the weekday does not match the date (2026-12-01 is a Tuesday, written Monday)")


def test_a_time_and_free_both_given_flag_both(template):
    # A scanner streak through フリー once read as a circle: the mark, not the time, was wrong.
    values = good_values()
    values["stop.time"], values["stop.free"] = "15:00", True
    problems = check_values(template, values)
    assert {"stop.time", "stop.free"} <= named(problems)
    values["stop.time"], values["stop.free"] = None, False
    assert {"stop.time", "stop.free"} <= named(check_values(template, values))


@given(y=st.integers(2026, 2030), m=st.integers(1, 12), d=st.integers(1, 28), sep=st.sampled_from("-/."))
def test_parse_value_accepts_what_people_type(template, y, m, d, sep):
    spec = template.field("stop.date")
    assert parse_value(spec, f"{y}{sep}{m}{sep}{d}") == f"{y:04d}-{m:02d}-{d:02d}"
    assert parse_value(template.field("notify.before_stop.customer"), "不要") is False
    assert parse_value(template.field("stop.weekday"), "水曜日") == "水"
    assert parse_value(template.field("customer_contact.phone"), "(03)1234-5678") == "03-1234-5678"
    assert parse_value(spec, "") is None


def test_parse_value_says_what_was_wrong_as_a_reason(template):
    with pytest.raises(InvalidValue) as bad:
        parse_value(template.field("notify.before_stop.customer"), "たぶん")
    assert bad.value.reason == Reason.of("not_yes_no", value="たぶん")
    assert "要/不要" in str(bad.value)  # the desk reads the message in Japanese


def test_a_blank_restart_is_a_restart_not_decided_yet(template):
    """開始 left blank is allowed: no date, time or フリー is owed, and nothing flags the record."""
    values = good_values() | {"resume.date": None, "resume.weekday": None, "resume.time": None, "resume.free": False}
    assert check_values(template, values) == ()


@pytest.mark.parametrize("written", [{"resume.time": "10:00"}, {"resume.free": True}, {"resume.weekday": "木"}])
def test_a_restart_time_or_free_without_its_date_is_flagged(template, written):
    values = good_values() | {"resume.date": None, "resume.weekday": None, "resume.time": None, "resume.free": False}
    problems = check_values(template, values | written)
    assert any(p.code == "rule:required" and p.fields == ("resume.date",) for p in problems)


def test_a_restart_date_still_owes_a_time_or_free(template):
    values = good_values() | {"resume.time": None, "resume.free": False}
    assert "rule:exactly_one" in {p.code for p in check_values(template, values)}
