"""Suites are built from the schemas; rules and suite parameters enforce their contracts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from fraudlake import schemas
from fraudlake.params import Params
from fraudlake.validation import VALIDATED_SCHEMAS, ValidationRules, build_suite
from fraudlake.validation.suites import (
    DAY_END,
    DAY_START,
    MAX_UNKNOWN_IDS,
    UNKNOWN_CUSTOMER_IDS,
    pandas_type,
    suite_parameters,
    unknown_customer_ids,
)


def _configs(kind: str) -> list[tuple[str, dict]]:
    suite = build_suite(kind, ValidationRules())
    return [(e.expectation_type, dict(e.configuration.kwargs)) for e in suite.expectations]


@pytest.mark.parametrize("kind", sorted(VALIDATED_SCHEMAS))
def test_suite_follows_schema(kind: str) -> None:
    schema = VALIDATED_SCHEMAS[kind]
    configs = _configs(kind)
    table = [kw for t, kw in configs if t == "expect_table_columns_to_match_set"]
    assert len(table) == 1
    assert table[0]["column_set"] == list(schema.names)
    assert table[0].get("exact_match", True) is True  # GX drops the default from kwargs
    not_null = {kw["column"] for t, kw in configs if t == "expect_column_values_to_not_be_null"}
    assert not_null == {f.name for f in schema if not f.nullable}
    typed = {
        kw["column"]
        for t, kw in configs
        if t in {"expect_column_values_to_be_of_type", "expect_column_values_to_be_calendar_dates"}
    }
    assert typed == set(schema.names)


def test_transactions_is_the_staged_schema() -> None:
    assert VALIDATED_SCHEMAS["transactions"] is schemas.TRANSACTIONS
    assert "card_id" in VALIDATED_SCHEMAS["transactions"].names


@pytest.mark.parametrize("kind", sorted(schemas.BATCH_DAY_COLUMN))
def test_day_column_is_bounded_by_parameters(kind: str) -> None:
    column = schemas.BATCH_DAY_COLUMN[kind]
    bounds = [
        kw
        for t, kw in _configs(kind)
        if t == "expect_column_values_to_be_between" and kw["column"] == column
    ]
    assert len(bounds) == 1
    assert bounds[0]["min_value"] == {"$PARAMETER": DAY_START}
    assert bounds[0]["max_value"] == {"$PARAMETER": DAY_END}
    assert bounds[0]["strict_max"] is True
    assert not bounds[0].get("strict_min")


def test_rules_reach_the_suite() -> None:
    rules = ValidationRules(grid_size=250.0, currency="USD", max_amount=5_000.0)
    configs = _configs_with("transactions", rules)
    by_column = {(t, kw.get("column")): kw for t, kw in configs}
    assert by_column[("expect_column_values_to_be_between", "terminal_x")]["max_value"] == 250.0
    assert by_column[("expect_column_values_to_be_between", "amount")]["max_value"] == 5_000.0
    assert "USD" in by_column[("expect_column_values_to_be_in_set", "currency")]["value_set"]


def _configs_with(kind: str, rules: ValidationRules) -> list[tuple[str, dict]]:
    suite = build_suite(kind, rules)
    return [(e.expectation_type, dict(e.configuration.kwargs)) for e in suite.expectations]


def test_rules_from_params() -> None:
    params = Params.model_validate({"simulate": {"grid_size": 50.0, "currency": "GBP"}})
    rules = ValidationRules.from_params(params)
    assert rules.grid_size == 50.0
    assert rules.currency == "GBP"


def test_configured_currency_must_be_accepted() -> None:
    with pytest.raises(ValidationError, match="not among the accepted"):
        ValidationRules(currency="XBT")
    with pytest.raises(ValidationError, match="ISO 4217"):
        ValidationRules(currency="EUR", accepted_currencies=frozenset({"EUR", "euro"}))


def test_pandas_types() -> None:
    assert pandas_type(pa.int64()) == "int64"
    assert pandas_type(pa.int32()) == "int32"
    assert pandas_type(pa.float64()) == "float64"
    assert pandas_type(pa.string()) == "str"
    assert pandas_type(pa.bool_()) == "bool"
    assert pandas_type(schemas.TS) == "Timestamp"
    with pytest.raises(ValueError, match="no pandas type check"):
        pandas_type(pa.timestamp("us"))


def test_suite_parameters_for_a_day() -> None:
    params = suite_parameters("labels", pd.DataFrame(), dt.date(2024, 2, 28), None)
    assert params == {
        DAY_START: dt.datetime(2024, 2, 28, tzinfo=dt.UTC),
        DAY_END: dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
    }
    assert suite_parameters("customers", pd.DataFrame(), None, None) == {}


def test_unknown_customer_ids() -> None:
    frame = pd.DataFrame({"customer_id": [3, 1, 7, 7, 9, 1]})
    assert unknown_customer_ids(frame, {1, 3}) == [7, 9]
    assert unknown_customer_ids(frame, range(10)) == []
    assert unknown_customer_ids(pd.DataFrame({"x": [1]}), {1}) == []
    many = pd.DataFrame({"customer_id": range(MAX_UNKNOWN_IDS + 10)})
    assert len(unknown_customer_ids(many, set())) == MAX_UNKNOWN_IDS
    params = suite_parameters("transactions", frame, dt.date(2024, 1, 1), [1, 3, 7])
    assert params[UNKNOWN_CUSTOMER_IDS] == [9]
