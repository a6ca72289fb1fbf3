"""The queue: what waits for a person (records and unread faxes), oldest first, and its counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from intake.store import Store


@dataclass
class QueueCounts:
    waiting: int  # flagged records with no decision
    unread: int  # faxes that gave no record, not yet decided (they wait too)
    on_hold: int
    confirmed_today: int
    oldest_waiting: str | None  # ISO time the oldest waiting item arrived

    @property
    def total_waiting(self) -> int:
        return self.waiting + self.unread


def counts(store: Store, *, today: str | None = None) -> QueueCounts:
    """The figures ``intake status`` and the station's header show (``today``: YYYY-MM-DD, UTC)."""
    day = today or datetime.now(timezone.utc).date().isoformat()
    one = lambda sql, *p: store.db.execute(sql, p).fetchone()[0]  # noqa: E731
    waiting = one("SELECT COUNT(*) FROM records WHERE review_state = 'pending' AND decision IS NULL")
    unread = one("SELECT COUNT(*) FROM files WHERE state IN ('no_form', 'quarantined') AND decision IS NULL")
    on_hold = one("SELECT COUNT(*) FROM records WHERE decision = 'on_hold'")
    confirmed = one("SELECT COUNT(*) FROM records WHERE decision = 'confirmed' AND substr(reviewed_at, 1, 10) = ?", day)
    oldest = one(
        "SELECT MIN(t) FROM (SELECT MIN(created) AS t FROM records WHERE review_state = 'pending' AND decision IS NULL"
        " UNION ALL SELECT MIN(received) FROM files WHERE state IN ('no_form', 'quarantined') AND decision IS NULL)"
    )
    return QueueCounts(waiting, unread, on_hold, confirmed, oldest)
