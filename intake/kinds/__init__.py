"""Field kinds: everything about one kind of field lives in one module, registered here.

A kind module (``comb_digits``, ``parts`` for dates, times and phones, ``weekday``,
``option_pair``, ``circled_option``, ``stamp``, ``text``) defines the kind's schema (the
pydantic spec class a template's field is validated against), how it is read, the type a
value must have, how a person's typed cell is parsed, which boxes it owns, its drawing colour,
its calibration table and its benchmark group. (How a value is shown in a cell follows from its
type alone, true/false or text: ``intake.export.cell_text``.) Adding a
kind is one new module plus its name in ``_register_modules`` below; nothing else dispatches on
kinds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Callable, Union

from pydantic import Field

from intake.model import Box, FieldReading

if TYPE_CHECKING:
    from intake.model import AlignedPage
    from intake.readers import Engines
    from intake.template import Template


@dataclass(frozen=True)
class FieldKind:
    """One kind of field, as the rest of the product sees it."""

    name: str
    spec: type  # the pydantic model a template field of this kind is validated against
    # (aligned page, template, spec, engines, year the fax arrived) -> the field's reading
    read: Callable[["AlignedPage", "Template", Any, "Engines", int], FieldReading]
    value_type: Callable[[Any], Any]  # spec -> the pydantic type a value must have (its checks attached)
    parse: Callable[[Any, str], Any]  # (spec, a typed cell, NFKC-normalised and non-empty) -> value
    boxes: Callable[["Template", Any], dict[str, Box]]  # every box the field owns, named, in template pixels
    colour: tuple[int, int, int]  # BGR, for `intake template show`
    bench_group: str  # the benchmark row the kind is scored in
    calibration: str = ""  # the calibration table it uses (default: its name)

    def calibration_key(self, value: Any) -> str:
        """A field read as blank has a score of another nature (how sure nothing is written)."""
        name = self.calibration or self.name
        return f"{name}:blank" if value is None else name


KINDS: dict[str, FieldKind] = {}


def register(*kinds: FieldKind) -> None:
    for kind in kinds:
        if kind.name in KINDS:
            raise ValueError(f"field kind {kind.name} registered twice")
        KINDS[kind.name] = kind


def kind_of(spec) -> FieldKind:
    """The kind of a template field."""
    return KINDS[spec.kind]


def field_spec_type() -> Any:
    """The union of every registered kind's spec, told apart by ``kind`` (for the template schema)."""
    specs = tuple(dict.fromkeys(k.spec for k in KINDS.values()))
    return Annotated[Union[specs], Field(discriminator="kind")]  # type: ignore[valid-type]


def read_fields(aligned: "AlignedPage", template: "Template", engines: "Engines", received=None) -> dict[str, FieldReading]:
    """One FieldReading per template field, in template order.

    ``received`` is the day the fax arrived (default today): dates are read as near it.
    """
    received_year = (received or dt.date.today()).year
    return {spec.key: kind_of(spec).read(aligned, template, spec, engines, received_year) for spec in template.fields}


def _register_modules() -> None:
    from intake.kinds import circled_option, comb_digits, option_pair, parts, stamp, text, weekday

    for module in (comb_digits, parts, weekday, option_pair, circled_option, stamp, text):
        register(*module.KINDS)


_register_modules()
