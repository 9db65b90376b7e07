"""The gate on real GX: valid batches pass, each kind of broken batch fails and says why."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudlake.validation import BatchValidator, ValidationOutcome, summary

KINDS = ["transactions", "customers", "labels", "fraud_intel"]


def _validate(
    validator: BatchValidator, batches, kind: str, frame: pd.DataFrame, batch_id: str
) -> ValidationOutcome:
    return validator.validate(kind, frame, batch_id, **batches.args(kind))


def _only_failure(outcome: ValidationOutcome) -> str:
    assert not outcome.success
    assert len(outcome.failed) == 1, [f.description for f in outcome.failed]
    return outcome.failed[0].description


@pytest.mark.parametrize("kind", KINDS)
def test_valid_batch_passes(shared_validator: BatchValidator, batches, kind: str) -> None:
    frame = batches.valid(kind)
    outcome = _validate(shared_validator, batches, kind, frame, f"valid-{kind}")
    assert outcome.success, summary(outcome)
    assert outcome.failed == ()
    assert outcome.kind == kind
    assert outcome.batch_id == f"valid-{kind}"
    assert outcome.rows == len(frame)
    assert outcome.evaluated > len(frame.columns)  # at least nullability + type per column


def test_missing_column_fails_and_is_named(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions().drop(columns=["amount"])
    outcome = _validate(shared_validator, batches, "transactions", frame, "missing-amount")
    description = _only_failure(outcome)
    assert outcome.failed[0].expectation_type == "expect_table_columns_to_match_set"
    assert "missing column(s) amount" in description


def test_extra_column_fails_and_is_named(shared_validator: BatchValidator, batches) -> None:
    frame = batches.labels().assign(analyst="bob")
    outcome = _validate(shared_validator, batches, "labels", frame, "extra-column")
    assert "unexpected column(s) analyst" in _only_failure(outcome)


def test_negative_amount(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[[3, 8, 9], "amount"] = [-12.5, -1.0, -3.0]
    outcome = _validate(shared_validator, batches, "transactions", frame, "negative-amount")
    assert _only_failure(outcome) == "amount: 3 values below 0 (e.g. -12.5, -1, -3)"
    assert outcome.failed[0].unexpected_count == 3
    assert outcome.failed[0].column == "amount"


def test_amount_at_cap(shared_validator: BatchValidator, batches, rules) -> None:
    frame = batches.transactions()
    frame.loc[0, "amount"] = rules.max_amount
    outcome = _validate(shared_validator, batches, "transactions", frame, "amount-cap")
    assert _only_failure(outcome).startswith("amount: 1 value at or above 100000")


def test_duplicate_transaction_id(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[5, "transaction_id"] = frame.loc[4, "transaction_id"]
    outcome = _validate(shared_validator, batches, "transactions", frame, "dup-tx")
    description = _only_failure(outcome)
    assert description == "transaction_id: 2 duplicated values (e.g. 1004)"
    assert outcome.failed[0].expectation_type == "expect_column_values_to_be_unique"


def test_duplicate_label(shared_validator: BatchValidator, batches) -> None:
    frame = batches.labels()
    frame.loc[1, "transaction_id"] = frame.loc[0, "transaction_id"]
    outcome = _validate(shared_validator, batches, "labels", frame, "dup-label")
    assert _only_failure(outcome).startswith("transaction_id: 2 duplicated values")


def test_duplicate_customer(shared_validator: BatchValidator, batches) -> None:
    frame = batches.customers()
    frame.loc[1, "customer_id"] = 0
    outcome = _validate(shared_validator, batches, "customers", frame, "dup-customer")
    assert _only_failure(outcome).startswith("customer_id: 2 duplicated values")


@pytest.mark.parametrize(
    ("shift", "side"),
    [(dt.timedelta(days=1), "at or above"), (-dt.timedelta(microseconds=1), "below")],
)
def test_timestamp_outside_the_day(
    shared_validator: BatchValidator, batches, shift: dt.timedelta, side: str
) -> None:
    frame = batches.transactions()
    start = pd.Timestamp(batches.day, tz="UTC")
    frame.loc[2, "event_ts"] = start + shift
    outcome = _validate(shared_validator, batches, "transactions", frame, f"ts-{side[-5:]}")
    description = _only_failure(outcome)
    assert description.startswith(f"event_ts: 1 value {side} ")
    assert outcome.failed[0].column == "event_ts"


def test_day_bounds_follow_the_day_argument(shared_validator: BatchValidator, batches) -> None:
    frame = batches.labels()
    outcome = shared_validator.validate(
        "labels", frame, "labels-wrong-day", day=batches.day + dt.timedelta(days=1)
    )
    description = _only_failure(outcome)
    assert description.startswith(f"reported_at: {len(frame)} values below 2024-03-02")


def test_first_and_last_instant_of_the_day_pass(shared_validator: BatchValidator, batches) -> None:
    frame = batches.fraud_intel()
    start = pd.Timestamp(batches.day, tz="UTC")
    frame.loc[0, "reported_at"] = start
    frame.loc[1, "reported_at"] = start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    outcome = _validate(shared_validator, batches, "fraud_intel", frame, "intel-edges")
    assert outcome.success, summary(outcome)


def test_unknown_customer(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[[1, 2], "customer_id"] = 99_999
    outcome = _validate(shared_validator, batches, "transactions", frame, "unknown-customer")
    assert _only_failure(outcome) == "customer_id: 2 unknown customer ids (e.g. 99999)"
    assert outcome.failed[0].unexpected_count == 2


def test_null_in_non_null_string_column(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[4, "card_id"] = None
    outcome = _validate(shared_validator, batches, "transactions", frame, "null-card")
    assert _only_failure(outcome) == "card_id: 1 null value"


def test_null_in_non_null_integer_column(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame["customer_id"] = frame["customer_id"].astype("float64")
    frame.loc[0, "customer_id"] = np.nan
    outcome = _validate(shared_validator, batches, "transactions", frame, "null-customer")
    descriptions = {f.description for f in outcome.failed}
    assert descriptions == {
        "customer_id: 1 null value",
        "customer_id: column type is float64, expected int64",
    }


def test_unknown_currency(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[6, "currency"] = "XBT"
    outcome = _validate(shared_validator, batches, "transactions", frame, "bad-currency")
    assert _only_failure(outcome) == "currency: 1 value not in the accepted set (e.g. 'XBT')"


def test_terminal_outside_grid(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[0, "terminal_x"] = 100.5
    outcome = _validate(shared_validator, batches, "transactions", frame, "off-grid")
    assert _only_failure(outcome) == "terminal_x: 1 value above 100 (e.g. 100.5)"


def test_customer_profile_ranges(shared_validator: BatchValidator, batches) -> None:
    frame = batches.customers()
    frame.loc[0, "std_amount"] = 0.0
    frame.loc[1, "home_y"] = -1.0
    outcome = _validate(shared_validator, batches, "customers", frame, "bad-profile")
    assert {f.description for f in outcome.failed} == {
        "std_amount: 1 value at or below 0 (e.g. 0)",
        "home_y: 1 value below 0 (e.g. -1)",
    }


def test_wrong_types(shared_validator: BatchValidator, batches) -> None:
    frame = batches.customers()
    frame["profile_date"] = frame["profile_date"].astype(str)
    frame["n_cards"] = frame["n_cards"].astype("int64")
    outcome = _validate(shared_validator, batches, "customers", frame, "bad-types")
    descriptions = {f.description for f in outcome.failed}
    assert "n_cards: column type is int64, expected int32" in descriptions
    assert any(
        d.startswith("profile_date: 20 values that are not calendar dates") for d in descriptions
    )


def test_naive_timestamps_fail_the_type_check(shared_validator: BatchValidator, batches) -> None:
    frame = batches.labels()
    frame["reported_at"] = frame["reported_at"].dt.tz_localize(None)
    outcome = _validate(shared_validator, batches, "labels", frame, "naive-ts")
    assert any(
        f.description == "reported_at: column type is datetime64, expected Timestamp"
        for f in outcome.failed
    ), [f.description for f in outcome.failed]


def test_intel_reported_before_compromise(shared_validator: BatchValidator, batches) -> None:
    frame = batches.fraud_intel()
    frame.loc[0, "compromised_from"] = frame.loc[0, "reported_at"] + pd.Timedelta(hours=1)
    outcome = _validate(shared_validator, batches, "fraud_intel", frame, "intel-order")
    assert _only_failure(outcome).startswith(
        "reported_at, compromised_from: 1 row breaks reported_at >= compromised_from"
    )


def test_empty_transactions_batch_fails(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions().iloc[0:0]
    outcome = _validate(shared_validator, batches, "transactions", frame, "empty")
    assert _only_failure(outcome) == "rows: batch has 0 rows, expected at least 1"


def test_empty_labels_batch_passes(shared_validator: BatchValidator, batches) -> None:
    frame = batches.labels().iloc[0:0]
    outcome = _validate(shared_validator, batches, "labels", frame, "no-labels")
    assert outcome.success, summary(outcome)


def test_several_problems_are_all_reported(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[3, "amount"] = -12.5
    frame.loc[7, "currency"] = "XBT"
    frame = frame.drop(columns=["terminal_y"])
    outcome = _validate(shared_validator, batches, "transactions", frame, "many-problems")
    assert [f.column for f in outcome.failed] == [None, "amount", "currency"]
    assert "missing column(s) terminal_y" in outcome.failed[0].description


def test_frame_is_not_modified(shared_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[3, "amount"] = -12.5
    before = frame.copy(deep=True)
    _validate(shared_validator, batches, "transactions", frame, "untouched")
    pd.testing.assert_frame_equal(frame, before)


def test_summary_names_failures_and_ends_with_docs(
    shared_validator: BatchValidator, batches
) -> None:
    frame = batches.transactions()
    frame.loc[3, "amount"] = -12.5
    frame.loc[7, "customer_id"] = 4242
    outcome = _validate(shared_validator, batches, "transactions", frame, "for-summary")
    text = summary(outcome)
    lines = text.splitlines()
    assert lines[0].startswith("transactions batch 'for-summary' of 2024-03-01 (50 rows) failed")
    assert "2 of" in lines[0]
    assert "  - amount: 1 value below 0 (e.g. -12.5)" in lines
    assert "  - customer_id: 1 unknown customer id (e.g. 4242)" in lines
    assert lines[-1] == f"Data Docs: {outcome.docs_page}"


def test_summary_of_a_passing_batch(shared_validator: BatchValidator, batches) -> None:
    outcome = _validate(shared_validator, batches, "labels", batches.labels(), "summary-ok")
    text = summary(outcome)
    assert "passed all" in text.splitlines()[0]
    assert text.endswith(str(outcome.docs_page))


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("payments", {}, "unknown batch kind"),
        ("transactions", {"known_customer_ids": {1}}, "pass day"),
        ("transactions", {"day": dt.date(2024, 3, 1)}, "known_customer_ids"),
        ("customers", {"day": dt.date(2024, 3, 1)}, "day=None"),
        ("labels", {"day": dt.date(2024, 3, 1), "known_customer_ids": {1}}, "only applies"),
        ("labels", {"day": dt.datetime(2024, 3, 1, tzinfo=dt.UTC)}, "not a datetime"),
    ],
)
def test_misuse_raises(
    shared_validator: BatchValidator, batches, kind: str, kwargs: dict, message: str
) -> None:
    frame = batches.valid(kind if kind != "payments" else "labels")
    with pytest.raises(ValueError, match=message):
        shared_validator.validate(kind, frame, "misuse", **kwargs)


@pytest.mark.parametrize(
    "batch_id", ["", "a//b", "/a", "a/", "../x", "a/../b", "day 1", "-x", "x" * 201]
)
def test_bad_batch_id_raises(shared_validator: BatchValidator, batches, batch_id: str) -> None:
    with pytest.raises(ValueError, match="batch_id"):
        _validate(shared_validator, batches, "labels", batches.labels(), batch_id)
