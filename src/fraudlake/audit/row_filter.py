"""``--where column=value`` options to an Iceberg row filter, typed by the table's schema."""

from __future__ import annotations

import datetime as dt

from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, IsNull
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    TimestamptzType,
)


class FilterError(ValueError):
    """A ``--where`` that names no column, or a value of the wrong type."""


def parse_where(conditions: list[str], schema: Schema) -> BooleanExpression:
    """``["customer_id=3", "decision=decline"]`` → ``customer_id = 3 AND decision =
    'decline'``; ``col=null`` matches nulls. :class:`FilterError` names a bad one."""
    expression: BooleanExpression = AlwaysTrue()
    for condition in conditions:
        column, sep, text = condition.partition("=")
        column = column.strip()
        if not sep or not column:
            raise FilterError(f"--where {condition!r}: write column=value")
        try:
            field = schema.find_field(column)
        except ValueError as exc:
            raise FilterError(
                f"--where {condition!r}: no column {column!r}; columns: "
                f"{', '.join(schema.column_names)}"
            ) from exc
        if text.strip().lower() == "null":
            part: BooleanExpression = IsNull(term=column)
        else:
            part = EqualTo(term=column, value=_typed(condition, field.field_type, text.strip()))
        expression = part if isinstance(expression, AlwaysTrue) else And(expression, part)
    return expression


def _typed(condition: str, kind: object, text: str) -> object:
    try:
        if isinstance(kind, IntegerType | LongType):
            return int(text)
        if isinstance(kind, FloatType | DoubleType):
            return float(text)
        if isinstance(kind, BooleanType):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if isinstance(kind, TimestamptzType):
            return dt.datetime.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise FilterError(f"--where {condition!r}: {text!r} is not a {kind}") from exc
    return text
