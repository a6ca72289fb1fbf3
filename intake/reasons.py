"""Review reasons as data: a stable code, the fields it concerns, and the values that explain it.

A reason is what the product knows; a message is how one language says it. Reasons are
stored, counted (benchmark, tests) and exported by code; ``intake.messages.render`` turns
one into words for the desk (Japanese first, English by a switch).

Codes are stable identifiers, never translated:
  reader codes   ``readers_disagree``, ``low_confidence``, ``not_a_digit``, ...
  rule codes     ``rule:<rule name>`` (``rule:weekday_matches_date``, ``rule:required``, ...)
  value codes    ``not_a_date``, ``format_mismatch``, ... (a value that breaks its kind's form)
  page codes     ``alignment_failed``, ...
  register codes ``register:<check>`` (``register:number_not_held``, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

Scalar = str | int | float | bool | None


def _scalar(value: Any) -> Scalar:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass(frozen=True)
class Reason:
    """Why a field or record needs a person: ``code``, the ``fields`` it names, and named ``values``.

    ``values`` is a tuple of (name, value) pairs so that a reason stays hashable and comparable;
    build one with ``Reason.of(code, fields, name=value, ...)`` and read values with ``get``.
    """

    code: str
    fields: tuple[str, ...] = ()
    values: tuple[tuple[str, Scalar], ...] = ()

    @classmethod
    def of(cls, code: str, fields: Iterable[str] | str = (), **values: Any) -> "Reason":
        names = (fields,) if isinstance(fields, str) else tuple(fields)
        return cls(code, names, tuple((k, _scalar(v)) for k, v in values.items()))

    def get(self, name: str, default: Scalar = None) -> Scalar:
        for k, v in self.values:
            if k == name:
                return v
        return default

    @property
    def params(self) -> dict[str, Scalar]:
        return dict(self.values)

    @property
    def family(self) -> str:
        """The part of the code before ``:`` (``rule``, ``register``), or the whole code."""
        return self.code.split(":", 1)[0]

    def about(self, key: str) -> bool:
        return key in self.fields

    def naming(self, fields: Iterable[str] | str) -> "Reason":
        """The same reason about ``fields`` (a reader's doubt about a part, attached to its field)."""
        return Reason(self.code, (fields,) if isinstance(fields, str) else tuple(fields), self.values)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "fields": list(self.fields), "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> "Reason":
        """Read a stored reason; a bare string (stores written before reasons were data) becomes ``legacy``."""
        if isinstance(data, str):
            return cls.of("legacy", (), text=data)
        return cls.of(str(data["code"]), tuple(data.get("fields") or ()), **dict(data.get("values") or {}))


def unique(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Each reason once, first occurrence first (one rule breach shown once, not once per field)."""
    return tuple(dict.fromkeys(reasons))


def codes(reasons: Iterable[Reason]) -> list[str]:
    return [r.code for r in reasons]


class InvalidValue(ValueError):
    """A value that breaks the rules of its kind, with the reason as data (``str`` is the code)."""

    def __init__(self, reason: Reason):
        super().__init__(reason.code)
        self.reason = reason

    def __str__(self) -> str:
        from intake.messages import render  # words are the catalogue's; the reason is data

        return render(self.reason)
