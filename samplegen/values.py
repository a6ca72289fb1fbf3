"""Random, realistic record values for one form, and the truth they produce.

``random_values`` returns a ``Values``: ``truth`` is exactly the record a perfect
reader would produce (keys as in the template), ``marks`` says how each
要/不要 and フリー was drawn, which the filler needs but the truth does not show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

WEEKDAYS = "月火水木金土日"
NOTIFY_KEYS = [f"notify.{w}.{who}" for w in ("before_stop", "after_stop", "before_resume", "after_resume") for who in ("customer", "sales")]

SURNAMES = ["山田", "田中", "佐藤", "鈴木", "高橋", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本", "松本", "井上", "木村",
            "林", "清水", "山口", "森", "池田", "橋本", "石川", "前田", "藤田", "岡田", "長谷川", "村上", "近藤", "石井", "斉藤"]
GIVEN = ["太郎", "花子", "一郎", "健太", "美咲", "大輔", "由美", "翔", "陽子", "誠", "直樹", "恵", "拓也", "裕子", "健一",
         "さくら", "ひろし", "明美", "浩二", "真理子", "学", "聡", "愛", "修", "和子"]
BUSINESS = ["商事", "物産", "工業", "企画", "販売", "電機", "食品", "不動産", "通信", "産業", "興業", "製作所", "開発", "広告",
            "サービス", "ホールディングス", "システム", "エンタープライズ"]
PLACE = ["東京", "大阪", "名古屋", "横浜", "北海道", "九州", "関西", "中央", "日本", "東洋", "富士", "太平洋", "新宿", "湘南"]
DEPTS = ["営業部", "総務部", "広報部", "販売促進部", "営業企画課", "情報システム部", "カスタマーサポート課", "マーケティング部",
         "第一営業部", "第二営業部", "お客様相談室", "宣伝部", "経営企画室", "業務部", "コールセンター"]
NTT_DEPTS = ["法人営業部", "第一営業部門", "第二営業部門", "ソリューション営業部", "営業推進部", "カスタマセンタ"]
REMARKS = ["キャンペーン終了のため", "番組放送休止のため", "年末年始休業のため", "システムメンテナンスのため",
           "応募受付期間終了のため", "社内規定変更に伴い一時停止", "夏季休業のため", "お盆期間中の休止",
           "臨時休業のため停止をお願いします", "番組改編に伴う一時停止", "改装工事のため", "抽選受付終了につき停止",
           "再開日は別途ご連絡します", "至急対応をお願いします"]

FIXED_PHONES = [("03", 4, 4), ("06", 4, 4), ("045", 3, 4), ("052", 3, 4), ("011", 3, 4), ("092", 3, 4), ("075", 3, 4),
                ("0466", 2, 4), ("0120", 3, 3), ("0570", 3, 3), ("022", 3, 4), ("048", 3, 4)]


@dataclass
class Values:
    truth: dict
    # How the writer marked each option: key -> "circle" | "tick" | "both" | "none" (+ chosen value).
    marks: dict = field(default_factory=dict)
    # How digits are spelt out: key -> list of digit strings per part (e.g. hour "9" vs "09").
    spelt: dict = field(default_factory=dict)


def _digits(rng, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def company(rng) -> str:
    core = str(rng.choice(SURNAMES + PLACE)) + str(rng.choice(BUSINESS))
    r = rng.random()
    if r < 0.55:
        return "株式会社" + core
    if r < 0.8:
        return core + "株式会社"
    if r < 0.9:
        return "有限会社" + core
    return "(株)" + core


def person(rng) -> str:
    sep = " " if rng.random() < 0.7 else ""
    return str(rng.choice(SURNAMES)) + sep + str(rng.choice(GIVEN))


def phone(rng) -> str:
    if rng.random() < 0.3:
        return f"{rng.choice(['090', '080', '070'])}-{_digits(rng, 4)}-{_digits(rng, 4)}"
    area, nl, nn = FIXED_PHONES[int(rng.integers(len(FIXED_PHONES)))]
    local = str(rng.integers(1, 10)) + _digits(rng, nl - 1)  # local numbers do not start with 0
    return f"{area}-{local}-{_digits(rng, nn)}"


def _time(rng) -> tuple[int, int]:
    hour = int(rng.choice(np.arange(24), p=_HOUR_P))
    r = rng.random()
    minute = 0 if r < 0.5 else 30 if r < 0.75 else int(rng.choice([15, 45])) if r < 0.85 else int(rng.integers(0, 60))
    return hour, minute


_HOUR_P = np.array([0.5, 0.2, 0.2, 0.2, 0.2, 0.5, 2, 3, 6, 10, 10, 8, 6, 8, 8, 8, 6, 6, 5, 3, 3, 2, 2, 2], float)
_HOUR_P /= _HOUR_P.sum()


def _date_parts(rng, d: dt.date) -> list[str]:
    """How a date is written: two-digit year, month and day with an occasional leading zero."""
    z = rng.random() < 0.15
    return [f"{d.year % 100:02d}", f"{d.month:02d}" if z else str(d.month), f"{d.day:02d}" if z else str(d.day)]


def random_values(rng: np.random.Generator) -> Values:
    """One form's worth of values and its truth record."""
    t: dict = {}
    v = Values(truth=t)

    sent = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
    t["sent_date"] = sent.isoformat()
    v.spelt["sent_date"] = _date_parts(rng, sent)
    t["contractor_name"] = company(rng)

    rows = int(rng.choice([1, 2, 3, 4], p=[0.45, 0.3, 0.15, 0.1]))
    for i in range(4):
        used = i < rows
        t[f"targets.{i}.teledome_number"] = f"0180-99-{_digits(rng, 4)}" if used else None
        t[f"targets.{i}.plan_number"] = f"4-{_digits(rng, 4)}-{_digits(rng, 2)}" if used else None

    stop = sent + dt.timedelta(days=int(rng.integers(0, 45)))
    resume = stop + dt.timedelta(days=int(rng.integers(1, 90)))
    wrong = str(rng.choice(["stop", "resume"])) if rng.random() < 0.05 else None
    for key, d in (("stop", stop), ("resume", resume)):
        t[f"{key}.date"] = d.isoformat()
        v.spelt[f"{key}.date"] = _date_parts(rng, d)
        wd = d.weekday()
        if key == wrong:  # a writer's slip: the truth is what is written, not what the calendar says
            wd = (wd + int(rng.integers(1, 7))) % 7
        t[f"{key}.weekday"] = WEEKDAYS[wd]
        if rng.random() < 0.3:
            t[f"{key}.time"], t[f"{key}.free"] = None, True
        else:
            h, m = _time(rng)
            t[f"{key}.time"], t[f"{key}.free"] = f"{h:02d}:{m:02d}", False
            v.spelt[f"{key}.time"] = [f"{h:02d}" if h < 10 and rng.random() < 0.3 else str(h), f"{m:02d}"]

    for k in NOTIFY_KEYS:
        want = bool(rng.random() < 0.5)
        r = rng.random()
        how = "circle" if r < 0.85 else "tick" if r < 0.98 else str(rng.choice(["both", "none"]))
        v.marks[k] = (how, want)
        t[k] = want if how in ("circle", "tick") else None

    t["customer_contact.department"] = str(rng.choice(DEPTS))
    t["customer_contact.name"] = person(rng)
    t["customer_contact.phone"] = phone(rng)
    if rng.random() < 0.6:
        t["ntt_contact.department"] = str(rng.choice(NTT_DEPTS)) if rng.random() < 0.85 else None
        t["ntt_contact.name"] = person(rng)
        t["ntt_contact.phone"] = phone(rng) if rng.random() < 0.8 else None
    else:  # the customer often leaves the NTT side blank
        t["ntt_contact.department"] = t["ntt_contact.name"] = t["ntt_contact.phone"] = None
    t["remarks"] = str(rng.choice(REMARKS)) if rng.random() < 0.6 else None
    for k in ("received", "stopped", "started"):
        t[f"office_use.{k}"] = bool(rng.random() < 0.03)
    return v
