"""The JSON-lines alias log is append-only and round-trips every field."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudlake.training.alias_log import AliasChange, AliasLog, AliasLogError, JsonlAliasLog


def change(n: int, **extra: object) -> AliasChange:
    fields: dict[str, object] = {
        "model_name": "fraud-detector",
        "alias": "champion",
        "action": "promote",
        "from_version": n - 1 if n > 1 else None,
        "to_version": n,
        "actor": "tester",
        "reason": f"change {n}",
        "metrics": {"average_precision": 0.5 + n / 100},
    }
    fields.update(extra)
    return AliasChange.model_validate(fields)


def test_jsonl_log_is_an_alias_log(tmp_path: Path) -> None:
    assert isinstance(JsonlAliasLog(tmp_path / "log.jsonl"), AliasLog)


def test_missing_file_is_empty_and_created_on_append(tmp_path: Path) -> None:
    log = JsonlAliasLog(tmp_path / "nested" / "aliases.jsonl")
    assert log.entries() == []
    first = change(1)
    log.append(first)
    assert log.path.exists()
    assert log.entries() == [first]


def test_append_never_rewrites_earlier_lines(tmp_path: Path) -> None:
    log = JsonlAliasLog(tmp_path / "aliases.jsonl")
    first = change(1)
    log.append(first)
    before = log.path.read_bytes()
    for n in range(2, 6):
        log.append(change(n))
        now = log.path.read_bytes()
        assert now.startswith(before)  # earlier bytes unchanged
        assert now.count(b"\n") == n
        before = now
    entries = log.entries()
    assert [e.to_version for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0] == first
    # a second handle on the same file sees and extends the same history
    other = JsonlAliasLog(log.path)
    other.append(change(6))
    assert log.path.read_bytes().startswith(before)
    assert [e.to_version for e in log.entries()] == [1, 2, 3, 4, 5, 6]


def test_fields_round_trip_in_utc(tmp_path: Path) -> None:
    log = JsonlAliasLog(tmp_path / "aliases.jsonl")
    at = dt.datetime(2024, 3, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    original = change(
        2, at=at, action="rollback", metrics={"roc_auc": math.nan, "average_precision": 0.7}
    )
    assert original.at == dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert original.at.utcoffset() == dt.timedelta(0)
    log.append(original)
    (read,) = log.entries()
    assert read.at == original.at and read.at.tzinfo is not None
    assert read.action == "rollback" and read.from_version == 1 and read.to_version == 2
    assert math.isnan(read.metrics["roc_auc"]) and read.metrics["average_precision"] == 0.7


def test_invalid_changes_are_refused() -> None:
    with pytest.raises(ValidationError):
        change(1, at=dt.datetime(2024, 3, 1))  # naive time
    with pytest.raises(ValidationError):
        change(1, action="delete")
    with pytest.raises(ValidationError):
        change(1, reason="")


def test_corrupt_line_is_reported_with_its_number(tmp_path: Path) -> None:
    log = JsonlAliasLog(tmp_path / "aliases.jsonl")
    log.append(change(1))
    with log.path.open("a") as fh:
        fh.write('{"truncated": \n')
    with pytest.raises(AliasLogError, match=r"aliases.jsonl:2"):
        log.entries()
