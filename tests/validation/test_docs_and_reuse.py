"""Data Docs, stored results and reuse of one validator across batches."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
from pathlib import Path

from fraudlake.params import Params
from fraudlake.validation import BatchValidator, ValidationRules, summary


def _page_text(path: Path) -> str:
    """Visible text of a Data Docs page (scripts and tags stripped)."""
    raw = path.read_text()
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", raw)))


def _relative(page: Path, validator: BatchValidator) -> str:
    return page.relative_to(validator.docs_dir).as_posix()


def test_build_docs_writes_index_and_failing_page(fresh_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[3, "amount"] = -12.5
    outcome = fresh_validator.validate(
        "transactions", frame, "2024-03-01", batches.day, batches.known_customers
    )
    assert not outcome.success
    assert not outcome.docs_page.exists()  # pages are rendered by build_docs, not per batch

    index = fresh_validator.build_docs()

    assert index == fresh_validator.docs_index
    assert index.name == "index.html" and index.is_file()
    index_html = index.read_text()
    assert _relative(outcome.docs_page, fresh_validator) in index_html
    assert "Failed" in index_html
    assert outcome.docs_page.is_file()
    page = _page_text(outcome.docs_page)
    # The failing expectation, as GX renders it, with the offending value.
    assert "values must be greater than or equal to 0.0 and less than 100000.0" in page
    assert "-12.5" in page
    assert "Status: Failed" in page
    assert outcome.docs_page.parts[-4:-2] == ("transactions", "2024-03-01")
    assert summary(outcome).endswith(str(outcome.docs_page))


def test_custom_date_expectation_is_named_in_docs(fresh_validator: BatchValidator, batches) -> None:
    frame = batches.customers()
    frame["profile_date"] = frame["profile_date"].astype(str)
    outcome = fresh_validator.validate("customers", frame, "profiles")
    assert [f.expectation_type for f in outcome.failed] == [
        "expect_column_values_to_be_calendar_dates"
    ]
    fresh_validator.build_docs()
    assert "values must be calendar dates" in _page_text(outcome.docs_page)


def test_reused_validator_keeps_batches_apart(fresh_validator: BatchValidator, batches) -> None:
    good = batches.transactions()
    bad = batches.transactions()
    bad.loc[0, "currency"] = "XBT"
    args = {"day": batches.day, "known_customer_ids": batches.known_customers}

    first = fresh_validator.validate("transactions", good, "day-1", **args)
    second = fresh_validator.validate("transactions", bad, "day-2", **args)
    third = fresh_validator.validate("transactions", good, "day-3", **args)

    assert (first.success, second.success, third.success) == (True, False, True)
    assert first.failed == () and third.failed == ()
    assert [f.column for f in second.failed] == ["currency"]
    pages = {first.docs_page, second.docs_page, third.docs_page}
    assert len(pages) == 3

    stored = sorted((fresh_validator.root / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(stored) == 3
    assert {p.parts[-3] for p in stored} == {"day-1", "day-2", "day-3"}

    fresh_validator.build_docs()
    assert all(p.is_file() for p in pages)
    assert "XBT" in _page_text(second.docs_page)
    assert "XBT" not in _page_text(first.docs_page)
    assert "Status: Succeeded" in _page_text(first.docs_page)
    assert "Status: Failed" in _page_text(second.docs_page)


def test_build_docs_is_incremental(fresh_validator: BatchValidator, batches) -> None:
    one = fresh_validator.validate("labels", batches.labels(), "labels-1", day=batches.day)
    fresh_validator.build_docs()
    built = one.docs_page.stat().st_mtime_ns

    two = fresh_validator.validate("labels", batches.labels(), "labels-2", day=batches.day)
    index = fresh_validator.build_docs()

    assert two.docs_page.is_file()
    assert one.docs_page.stat().st_mtime_ns == built  # not rendered again
    index_html = index.read_text()  # but the index lists both
    assert _relative(one.docs_page, fresh_validator) in index_html
    assert _relative(two.docs_page, fresh_validator) in index_html


def test_reopening_a_root_replaces_suites_keeps_results(tmp_path: Path, batches) -> None:
    root = tmp_path / "gx-root"
    first = BatchValidator(root, ValidationRules(grid_size=100.0))
    frame = batches.transactions()
    frame.loc[0, "terminal_x"] = 150.0
    args = {"day": batches.day, "known_customer_ids": batches.known_customers}
    assert not first.validate("transactions", frame, "before", **args).success

    second = BatchValidator(root, ValidationRules(grid_size=200.0))
    assert second.validate("transactions", frame, "after", **args).success
    second.build_docs()
    stored = list((root / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(stored) == 2


def test_two_validators_in_one_process_stay_separate(tmp_path: Path, batches) -> None:
    a = BatchValidator(tmp_path / "a")
    b = BatchValidator(tmp_path / "b")
    outcome_a = a.validate("labels", batches.labels(), "labels-a", day=batches.day)
    outcome_b = b.validate("labels", batches.labels(), "labels-b", day=dt.date(2024, 3, 2))
    assert outcome_a.success and not outcome_b.success
    assert outcome_a.docs_page.is_relative_to(tmp_path / "a")
    assert outcome_b.docs_page.is_relative_to(tmp_path / "b")
    assert not list((tmp_path / "a").rglob("*labels-b*"))


def test_slash_separated_batch_ids(fresh_validator: BatchValidator, batches) -> None:
    outcome = fresh_validator.validate(
        "labels", batches.labels(), "labels/2024-03-01", day=batches.day
    )
    assert outcome.batch_id == "labels/2024-03-01"
    assert outcome.docs_page.parts[-3] == "labels__2024-03-01"
    fresh_validator.build_docs()
    assert outcome.docs_page.is_file()


def test_rules_from_params_sections(tmp_path: Path, batches) -> None:
    params = Params.model_validate({"simulate": {"grid_size": 10.0, "currency": "SEK"}})
    for i, given in enumerate([params, params.simulate]):
        validator = BatchValidator(tmp_path / f"root-{i}", given)
        assert validator.rules == ValidationRules(grid_size=10.0, currency="SEK")
    frame = batches.transactions()  # terminal_x up to 49 > grid 10, currency EUR is accepted
    outcome = validator.validate(
        "transactions", frame, "small-grid", batches.day, batches.known_customers
    )
    assert [f.column for f in outcome.failed] == ["terminal_x", "terminal_y"]


def _stored_results(validator: BatchValidator) -> int:
    return len(list((validator.root / "gx" / "uncommitted" / "validations").rglob("*.json")))


def test_a_passed_batch_keeps_its_verdict_for_the_same_bytes_and_suite(
    tmp_path: Path, batches, rules: ValidationRules
) -> None:
    root = tmp_path / "gx-root"
    frame = batches.transactions()
    args = {"day": batches.day, "known_customer_ids": batches.known_customers}
    first = BatchValidator(root, rules).validate(
        "transactions", frame, "transactions/d1", **args, content_hash="abc"
    )
    assert first.success and not first.reused

    again = BatchValidator(root, rules)  # a later run: a new validator on the same root
    reused = again.validate("transactions", frame, "transactions/d1", **args, content_hash="abc")
    assert reused.reused and reused.model_copy(update={"reused": False}) == first
    assert _stored_results(again) == 1  # GX did not run again
    moved = tmp_path / "moved"  # a copied root keeps its verdicts, pointing into itself
    shutil.copytree(root, moved)
    elsewhere = BatchValidator(moved, rules).validate(
        "transactions", frame, "transactions/d1", **args, content_hash="abc"
    )
    assert elsewhere.reused and elsewhere.docs_page.is_relative_to(moved / "gx")

    # other bytes, no hash, another day, an unknown customer or other rules: GX runs
    checks = [
        again.validate("transactions", frame, "transactions/d1", **args, content_hash="abd"),
        again.validate("transactions", frame, "transactions/d1", **args),
        again.validate(
            "transactions",
            frame,
            "transactions/d1",
            day=batches.day + dt.timedelta(days=1),
            known_customer_ids=batches.known_customers,
            content_hash="abd",
        ),
    ]
    assert [c.reused for c in checks] == [False, False, False]
    assert not checks[2].success  # its timestamps are outside the other day
    unknown = set(batches.known_customers) - {int(frame.loc[0, "customer_id"])}
    customer_gone = again.validate(
        "transactions",
        frame,
        "transactions/d1",
        day=batches.day,
        known_customer_ids=unknown,
        content_hash="abd",
    )
    assert not customer_gone.reused and not customer_gone.success
    tighter = BatchValidator(root, rules.model_copy(update={"max_amount": 1.0}))
    strict = tighter.validate("transactions", frame, "transactions/d1", **args, content_hash="abd")
    assert not strict.reused and not strict.success


def test_failed_verdicts_are_not_remembered(fresh_validator: BatchValidator, batches) -> None:
    frame = batches.transactions()
    frame.loc[3, "amount"] = -12.5
    args = {"day": batches.day, "known_customer_ids": batches.known_customers}
    for _ in range(2):
        outcome = fresh_validator.validate(
            "transactions", frame, "transactions/bad", **args, content_hash="bad"
        )
        assert not outcome.success and not outcome.reused
    assert _stored_results(fresh_validator) == 2


def test_a_damaged_verdict_file_means_validate_again(
    tmp_path: Path, batches, rules: ValidationRules
) -> None:
    root = tmp_path / "gx-root"
    first = BatchValidator(root, rules)
    first.validate("labels", batches.labels(), "labels/d1", day=batches.day, content_hash="h")
    good = first.passed_file.read_text()
    for damaged in (
        "{not json",
        '"not a record"\n',
        '{"batch_id": "labels/d1", "kind": "labels"}\n',  # fields missing
        good[: len(good) // 2],  # the last line cut by a crash
    ):
        first.passed_file.write_text(damaged)
        again = BatchValidator(root, rules)
        outcome = again.validate(
            "labels", batches.labels(), "labels/d1", day=batches.day, content_hash="h"
        )
        assert outcome.success and not outcome.reused, damaged
        # the new verdict is a line of its own, after whatever was there
        last = json.loads(again.passed_file.read_text().splitlines()[-1])
        assert last["batch_id"] == "labels/d1" and last["content_hash"] == "h"
        assert (
            BatchValidator(root, rules)
            .validate("labels", batches.labels(), "labels/d1", day=batches.day, content_hash="h")
            .reused
        )


def test_verdicts_are_appended_once_each_and_superseded_lines_compacted(
    tmp_path: Path, batches, rules: ValidationRules
) -> None:
    root = tmp_path / "gx-root"
    validator = BatchValidator(root, rules)
    labels = batches.labels()
    for content_hash in ("v1", "v2", "v3"):  # the batch restated twice: three verdicts
        validator.validate(
            "labels", labels, "labels/d1", day=batches.day, content_hash=content_hash
        )
    validator.validate("labels", labels, "labels/d1", day=batches.day, content_hash="v3")
    lines = validator.passed_file.read_text().splitlines()
    assert [json.loads(line)["content_hash"] for line in lines] == ["v1", "v2", "v3"]

    reopened = BatchValidator(root, rules)  # 3 lines for 1 batch: rewritten with the last
    lines = reopened.passed_file.read_text().splitlines()
    assert [json.loads(line)["content_hash"] for line in lines] == ["v3"]
    assert reopened.validate(
        "labels", labels, "labels/d1", day=batches.day, content_hash="v3"
    ).reused
    assert not reopened.validate(
        "labels", labels, "labels/d1", day=batches.day, content_hash="v1"
    ).reused
