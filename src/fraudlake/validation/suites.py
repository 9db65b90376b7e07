"""Expectation suites per batch kind, built in code from the Arrow schemas.

One suite per kind (``transactions``, ``customers``, ``labels``, ``fraud_intel``). Each
suite checks, in this order:

* the exact column set of the kind's schema (a missing or extra column fails, named);
* the row count, where an empty batch means a broken feed (transactions, customers);
* per column: no nulls where the schema says non-nullable, and the pandas type that
  ``pyarrow.Table.to_pandas`` gives the Arrow type (nullable pandas dtypes pass too);
* value rules from :class:`~fraudlake.validation.rules.ValidationRules`: ids ``>= 0``,
  unique ``transaction_id`` / ``customer_id``, coordinates in ``[0, grid_size]``,
  amounts in ``[0, max_amount)``, customer mean/std amounts ``> 0``, currency in the
  accepted set, ``compromised_from <= reported_at``;
* batch-dependent rules, as GX suite parameters filled per batch by
  :func:`suite_parameters`: the day column (``BATCH_DAY_COLUMN``) inside
  ``[day 00:00 UTC, next day 00:00 UTC)`` and, for transactions, customer ids that
  exist.

"Customers that exist" is checked as *customer_id not in the batch's unknown ids*: the
unknown ids are found with one vectorised ``isin`` against the caller's known ids, and
only those (usually none) go into the suite parameter. Passing the full known-id set to
``expect_column_values_to_be_in_set`` instead costs GX ~0.1 ms per id per batch, a second
for 3,000 customers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations import ExpectationSuite
from great_expectations import expectations as gxe
from great_expectations.expectations.expectation import Expectation

from fraudlake import schemas
from fraudlake.validation.expectations import ExpectColumnValuesToBeCalendarDates
from fraudlake.validation.rules import ValidationRules

#: The schema each kind of batch is validated against. ``transactions`` is the *staged*
#: batch, after pseudonymisation (``card_id`` instead of ``card_number``).
VALIDATED_SCHEMAS: Mapping[str, pa.Schema] = {
    "transactions": schemas.TRANSACTIONS,
    "customers": schemas.CUSTOMERS,
    "labels": schemas.LABELS,
    "fraud_intel": schemas.FRAUD_INTEL,
}

#: Kinds whose batches must not be empty.
NON_EMPTY_KINDS: frozenset[str] = frozenset({"transactions", "customers"})

#: Suite parameter: first instant of the batch's day (inclusive), tz-aware UTC.
DAY_START = "day_start"
#: Suite parameter: first instant of the next day (exclusive), tz-aware UTC.
DAY_END = "day_end"
#: Suite parameter: the batch's distinct customer ids unknown to the caller.
UNKNOWN_CUSTOMER_IDS = "unknown_customer_ids"

#: At most this many distinct unknown customer ids go into the suite parameter; beyond
#: it GX would spend seconds per batch, and the batch fails either way.
MAX_UNKNOWN_IDS = 1_000

_ID_COLUMNS = ("transaction_id", "customer_id", "terminal_id")
_UNIQUE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "transactions": ("transaction_id",),
    "customers": ("customer_id",),
    "labels": ("transaction_id",),
}


def suite_name(kind: str) -> str:
    """Name of the kind's suite in the GX context (the kind itself)."""
    _schema(kind)
    return kind


def pandas_type(arrow_type: pa.DataType) -> str:
    """The GX ``type_`` a pandas column of this Arrow type must have.

    ``int64`` also accepts pandas ``Int64``; ``str`` accepts ``object`` columns of str
    and pandas ``string``; ``Timestamp`` means tz-aware ``datetime64[.., tz]``.
    Raises ``ValueError`` for a type no schema uses (``date32`` has its own expectation).
    """
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return "Timestamp"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return str(arrow_type.to_pandas_dtype().__name__)
    raise ValueError(f"no pandas type check for Arrow type {arrow_type}")


def build_suite(kind: str, rules: ValidationRules) -> ExpectationSuite:
    """The expectation suite of ``kind`` under ``rules``; not yet added to a context.

    Suite parameters it needs at validation time: :data:`DAY_START` and :data:`DAY_END`
    for kinds in ``BATCH_DAY_COLUMN``, :data:`UNKNOWN_CUSTOMER_IDS` for transactions.
    """
    schema = _schema(kind)
    expectations: list[Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(schema.names), exact_match=True),
    ]
    if kind in NON_EMPTY_KINDS:
        expectations.append(gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=None))
    for field in schema:
        expectations.extend(_field_expectations(field))
    expectations.extend(_value_expectations(kind, rules))
    day_column = schemas.BATCH_DAY_COLUMN.get(kind)
    if day_column is not None:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=day_column,
                min_value={"$PARAMETER": DAY_START},
                max_value={"$PARAMETER": DAY_END},
                strict_max=True,
                notes=f"{day_column} decides the batch's day: [day 00:00 UTC, next day).",
            )
        )
    return ExpectationSuite(
        name=suite_name(kind),
        expectations=expectations,
        meta={"fraudlake_rules": rules.model_dump(mode="json")},
    )


def suite_parameters(
    kind: str,
    frame: pd.DataFrame,
    day: dt.date | None,
    known_customer_ids: Collection[int] | None,
) -> dict[str, Any]:
    """Values of the suite parameters of ``kind`` for one batch.

    ``day`` is required exactly for kinds in ``BATCH_DAY_COLUMN`` and
    ``known_customer_ids`` exactly for transactions; anything else raises ``ValueError``
    (a gate that silently skips a check is no gate). A frame without ``customer_id``
    yields no unknown ids: the column-set expectation fails it.
    """
    _schema(kind)
    params: dict[str, Any] = {}
    if kind in schemas.BATCH_DAY_COLUMN:
        if day is None:
            raise ValueError(f"{kind} batches are validated per day: pass day")
        if isinstance(day, dt.datetime):
            raise ValueError(f"day must be a datetime.date, not a datetime ({day!r})")
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        params[DAY_START] = start
        params[DAY_END] = start + dt.timedelta(days=1)
    elif day is not None:
        raise ValueError(f"{kind} batches have no day column: pass day=None")
    if kind == "transactions":
        if known_customer_ids is None:
            raise ValueError("transactions need known_customer_ids (the customer table's ids)")
        params[UNKNOWN_CUSTOMER_IDS] = unknown_customer_ids(frame, known_customer_ids)
    elif known_customer_ids is not None:
        raise ValueError(f"known_customer_ids only applies to transactions, not {kind}")
    return params


def unknown_customer_ids(frame: pd.DataFrame, known_customer_ids: Collection[int]) -> list[Any]:
    """Distinct non-null ``customer_id`` values of ``frame`` not in ``known_customer_ids``.

    Sorted when comparable, at most :data:`MAX_UNKNOWN_IDS`, as plain Python values (they
    are stored in the validation result).
    """
    if "customer_id" not in frame.columns:
        return []
    ids = frame["customer_id"]
    known = np.fromiter(known_customer_ids, dtype=np.int64, count=len(known_customer_ids))
    unknown = pd.unique(ids[ids.notna() & ~ids.isin(known)])
    values = [v.item() if isinstance(v, np.generic) else v for v in unknown]
    with contextlib.suppress(TypeError):  # mixed types: keep first-seen order
        values.sort()
    return values[:MAX_UNKNOWN_IDS]


def _schema(kind: str) -> pa.Schema:
    try:
        return VALIDATED_SCHEMAS[kind]
    except KeyError:
        raise ValueError(
            f"unknown batch kind {kind!r}; expected one of {sorted(VALIDATED_SCHEMAS)}"
        ) from None


def _field_expectations(field: pa.Field) -> list[Expectation]:
    """Nullability and type of one schema field."""
    out: list[Expectation] = []
    if not field.nullable:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=field.name))
    if pa.types.is_date(field.type):
        out.append(ExpectColumnValuesToBeCalendarDates(column=field.name))
    else:
        out.append(
            gxe.ExpectColumnValuesToBeOfType(column=field.name, type_=pandas_type(field.type))
        )
    return out


def _between(
    column: str,
    min_value: float | None,
    max_value: float | None,
    *,
    strict_min: bool = False,
    strict_max: bool = False,
    notes: str | None = None,
) -> Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=min_value,
        max_value=max_value,
        strict_min=strict_min,
        strict_max=strict_max,
        notes=notes,
    )


def _value_expectations(kind: str, rules: ValidationRules) -> list[Expectation]:
    """Value rules of ``kind`` that do not depend on the batch."""
    names = set(VALIDATED_SCHEMAS[kind].names)
    out: list[Expectation] = [
        _between(column, 0, None) for column in _ID_COLUMNS if column in names
    ]
    out.extend(gxe.ExpectColumnValuesToBeUnique(column=c) for c in _UNIQUE_COLUMNS.get(kind, ()))
    grid = rules.grid_size
    grid_note = f"Locations lie on the simulation grid [0, {grid:g}]."
    if kind == "transactions":
        out += [
            _between("terminal_x", 0, grid, notes=grid_note),
            _between("terminal_y", 0, grid, notes=grid_note),
            _between(
                "amount",
                0,
                rules.max_amount,
                strict_max=True,
                notes=f"Amounts are never negative and below the sanity cap {rules.max_amount:g}.",
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="currency",
                value_set=sorted(rules.accepted_currencies),
                notes=f"Accepted ISO 4217 codes; the configured currency is {rules.currency}.",
            ),
            gxe.ExpectColumnValuesToNotBeInSet(
                column="customer_id",
                value_set={"$PARAMETER": UNKNOWN_CUSTOMER_IDS},
                notes="Customers that exist: the set holds this batch's customer ids that "
                "are missing from the customer table (empty when all are known).",
            ),
        ]
    elif kind == "customers":
        out += [
            _between("home_x", 0, grid, notes=grid_note),
            _between("home_y", 0, grid, notes=grid_note),
            _between("mean_amount", 0, rules.max_amount, strict_min=True, strict_max=True),
            _between("std_amount", 0, rules.max_amount, strict_min=True, strict_max=True),
            _between("mean_tx_per_day", 0, None),
            _between("n_cards", 1, None),
        ]
    elif kind == "fraud_intel":
        out.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="reported_at",
                column_B="compromised_from",
                or_equal=True,
                notes="A terminal is reported compromised after it was compromised.",
            )
        )
    return out
