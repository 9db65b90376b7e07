"""Turn a GX suite validation result into short, human descriptions of what failed.

Contract of :func:`failed_expectations`: one :class:`FailedExpectation` per failed
expectation, in suite order, except that failures of column-level expectations on a
column missing from the batch are left out: the column-set expectation already names
the missing column, and "could not compute metric for column amount" adds nothing.
An expectation that raised (GX records ``exception_info`` instead of failing the run)
is described as "could not be checked" with the exception message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)

from fraudlake.validation.outcome import FailedExpectation

#: How many example values a description quotes.
MAX_EXAMPLES = 3


def failed_expectations(
    result: ExpectationSuiteValidationResult, missing_columns: Collection[str]
) -> tuple[FailedExpectation, ...]:
    """Failed expectations of ``result``, described (see the module docstring)."""
    out: list[FailedExpectation] = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        if config is None:
            continue
        kwargs: Mapping[str, Any] = config.kwargs
        columns = _columns_of(kwargs)
        if columns and any(c in missing_columns for c in columns):
            continue
        details: Mapping[str, Any] = item.result or {}
        count = details.get("unexpected_count")
        out.append(
            FailedExpectation(
                expectation_type=config.type,
                column=columns[0] if len(columns) == 1 else None,
                description=describe(item),
                unexpected_count=int(count) if count is not None else None,
            )
        )
    return tuple(out)


def describe(item: ExpectationValidationResult) -> str:
    """One line saying why ``item`` failed, prefixed by the column (or ``columns``/``rows``)."""
    config = item.expectation_config
    assert config is not None, "a validation result always carries its configuration"
    kind = config.type
    kwargs: Mapping[str, Any] = config.kwargs
    details: Mapping[str, Any] = item.result or {}
    column = kwargs.get("column")
    error = _exception_message(item.exception_info)
    if error is not None:
        where = column or ", ".join(_columns_of(kwargs)) or "table"
        return f"{where}: could not be checked ({error})"

    if kind == "expect_table_columns_to_match_set":
        mismatched = (details.get("details") or {}).get("mismatched") or {}
        parts = []
        if mismatched.get("missing"):
            parts.append("missing column(s) " + ", ".join(map(str, mismatched["missing"])))
        if mismatched.get("unexpected"):
            parts.append("unexpected column(s) " + ", ".join(map(str, mismatched["unexpected"])))
        return "columns: " + ("; ".join(parts) or "do not match the schema")
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"rows: batch has {details.get('observed_value')} rows, expected at least "
            f"{kwargs.get('min_value')}"
        )
    if kind == "expect_column_values_to_be_of_type" and "unexpected_count" not in details:
        return (
            f"{column}: column type is {details.get('observed_value')}, "
            f"expected {kwargs.get('type_')}"
        )
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        op = ">=" if kwargs.get("or_equal") else ">"
        n = _count(details)
        verb = "row breaks" if n == 1 else "rows break"
        return (
            f"{kwargs.get('column_A')}, {kwargs.get('column_B')}: {n} {verb} "
            f"{kwargs.get('column_A')} {op} {kwargs.get('column_B')}{_examples(kind, details)}"
        )

    n = _count(details)
    return f"{column}: {_map_phrase(kind, kwargs, details, n)}{_examples(kind, details)}"


def _map_phrase(kind: str, kwargs: Mapping[str, Any], details: Mapping[str, Any], n: int) -> str:
    """Count and predicate of the offending values, e.g. ``"3 values below 0"``."""
    values = _plural(n, "value")
    if kind == "expect_column_values_to_not_be_null":
        return f"{n} null {values}"
    if kind == "expect_column_values_to_be_of_type":
        return f"{n} {values} not of type {kwargs.get('type_')}"
    if kind == "expect_column_values_to_be_calendar_dates":
        return f"{n} {values} that are not calendar dates"
    if kind == "expect_column_values_to_be_unique":
        return f"{n} duplicated {values}"
    if kind == "expect_column_values_to_be_in_set":
        return f"{n} {values} not in the accepted set"
    if kind == "expect_column_values_to_not_be_in_set":
        if kwargs.get("column") == "customer_id":
            return f"{n} unknown customer {_plural(n, 'id')}"
        return f"{n} {values} in the excluded set"
    if kind == "expect_column_values_to_be_between":
        return f"{n} {values} {_range_phrase(kwargs, details)}"
    return f"{n} {values} failing {kind}"


def _range_phrase(kwargs: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """``below 0`` / ``above 100`` when every offending value is seen on one side."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_min, strict_max = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    examples = list(details.get("partial_unexpected_list") or [])
    complete = len(examples) == details.get("unexpected_count")
    if complete and examples:
        try:
            if low is not None and all(_below(v, low, strict_min) for v in examples):
                return f"{'at or ' if strict_min else ''}below {_fmt(low)}"
            if high is not None and all(_above(v, high, strict_max) for v in examples):
                return f"{'at or ' if strict_max else ''}above {_fmt(high)}"
        except TypeError:
            pass
    lo = "(" if strict_min else "["
    hi = ")" if strict_max else "]"
    low_s = _fmt(low) if low is not None else "-inf"
    high_s = _fmt(high) if high is not None else "inf"
    return f"outside {lo}{low_s}, {high_s}{hi}"


def _below(value: Any, low: Any, strict: bool) -> bool:
    return bool(value <= low) if strict else bool(value < low)


def _above(value: Any, high: Any, strict: bool) -> bool:
    return bool(value >= high) if strict else bool(value > high)


def _count(details: Mapping[str, Any]) -> int:
    count = details.get("unexpected_count")
    return int(count) if count is not None else 0


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _examples(kind: str, details: Mapping[str, Any]) -> str:
    """`` (e.g. a, b, c)`` from GX's partial unexpected list; nothing for null checks."""
    if kind == "expect_column_values_to_not_be_null":
        return ""
    values = details.get("partial_unexpected_list") or []
    seen: list[str] = []
    for value in values:
        text = _fmt(value)
        if text not in seen:
            seen.append(text)
        if len(seen) == MAX_EXAMPLES:
            break
    return f" (e.g. {', '.join(seen)})" if seen else ""


def _fmt(value: Any) -> str:
    """Short text of one value: quoted strings, ISO timestamps, compact numbers."""
    if hasattr(value, "item") and not isinstance(value, str | bytes | dt.datetime):
        with contextlib.suppress(TypeError, ValueError):
            value = value.item()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return "null" if math.isnan(value) else f"{value:.10g}"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def _columns_of(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """Columns a configuration checks: ``column``, ``column_A``/``column_B``, ``column_list``."""
    if kwargs.get("column") is not None:
        return (str(kwargs["column"]),)
    pair = tuple(str(kwargs[k]) for k in ("column_A", "column_B") if kwargs.get(k) is not None)
    if pair:
        return pair
    listed: Iterable[Any] = kwargs.get("column_list") or ()
    return tuple(str(c) for c in listed)


def _exception_message(info: Mapping[str, Any] | None) -> str | None:
    """The first exception message GX recorded, whatever shape ``exception_info`` has.

    GX stores either ``{"raised_exception": bool, "exception_message": ...}`` or, for
    metric failures, a mapping of metric ids to such dicts.
    """
    if not info:
        return None
    if "raised_exception" in info:
        if not info.get("raised_exception"):
            return None
        message = str(info.get("exception_message") or "exception").strip()
        first = message.splitlines()[0] if message else "exception"
        return first if len(first) <= 200 else first[:197] + "..."
    for nested in info.values():
        if isinstance(nested, Mapping):
            found = _exception_message(nested)
            if found is not None:
                return found
    return None
