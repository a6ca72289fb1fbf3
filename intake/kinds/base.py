"""What every field kind's schema shares: strict models, boxes in PDF points, the common field keys,
and the yes/no values the mark kinds share."""

from __future__ import annotations

from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from intake.model import Box
from intake.reasons import InvalidValue, Reason


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PtBox(Strict):
    """A box in PDF points (1/72 inch), origin top-left."""

    x0: float
    y0: float
    x1: float
    y1: float

    @model_validator(mode="after")
    def _ordered(self) -> "PtBox":
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise ValueError(f"box must have x1>x0 and y1>y0, got {self}")
        return self

    def to_px(self, dpi: float) -> Box:
        s = dpi / 72.0
        return Box(int(round(self.x0 * s)), int(round(self.y0 * s)), int(round(self.x1 * s)), int(round(self.y1 * s)))


class FieldBase(Strict):
    key: str = Field(pattern=r"^[a-z_][a-z0-9_.]*$")
    # The words printed beside the field on the form: what the desk reads in review reasons.
    label: str = ""
    required: bool = False
    # Rows of a repeating table (e.g. the four target rows) share a group; a
    # group that is entirely blank is "unused" and its fields are null, not errors.
    group: str | None = None


def invalid(code: str, **values: Any) -> InvalidValue:
    """A value that breaks its kind's form; the field it concerns is named by the validator."""
    return InvalidValue(Reason.of(code, (), **values))


def checked_str(check: Callable[[str], str]) -> Any:
    """A string value that must pass ``check`` (which raises InvalidValue)."""
    return Annotated[str, AfterValidator(check)]


# -- yes/no: the value of every mark kind (要/不要, フリー, stamps) ------------------
_TRUE = {"true", "1", "yes", "y", "要", "○", "〇", "済", "on"}
_FALSE = {"false", "0", "no", "n", "不要", "×", "off"}


def parse_yes_no(spec, text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise invalid("not_yes_no", value=text)

