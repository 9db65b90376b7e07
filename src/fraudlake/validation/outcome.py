"""What the validation gate returns for one batch, and its one-paragraph summary.

Plain frozen pydantic models, free of GX types, so callers (the Airflow task, the DVC
stage, the CLI) can log, serialise or compare them without importing Great Expectations.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class FailedExpectation(BaseModel):
    """One expectation that failed on a batch.

    ``description`` is one short line fit for a log or an error message, e.g.
    ``"amount: 3 values below 0 (e.g. -12.5)"``. ``unexpected_count`` is the number of
    offending rows for row-wise checks and ``None`` for table-level ones (column set,
    row count, a column's dtype).
    """

    model_config = ConfigDict(frozen=True)

    expectation_type: str = Field(description="GX type, e.g. expect_column_values_to_be_unique")
    column: str | None = Field(None, description="the column checked; None for table checks")
    description: str
    unexpected_count: int | None = None


class ValidationOutcome(BaseModel):
    """The verdict on one batch.

    ``success`` is True exactly when ``failed`` is empty. ``docs_page`` is where this
    validation's Data Docs page is written by ``BatchValidator.build_docs()``; it does not
    exist before that call.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    batch_id: str
    day: dt.date | None
    success: bool
    rows: int = Field(ge=0)
    evaluated: int = Field(ge=0, description="number of expectations evaluated")
    failed: tuple[FailedExpectation, ...] = ()
    docs_page: Path
    reused: bool = Field(
        False,
        description="the verdict of an earlier run on the same bytes, suite and suite "
        "parameters, returned without running GX again (docs_page is that run's page)",
    )


def summary(outcome: ValidationOutcome) -> str:
    """A message naming the failed expectations, ending with where the Data Docs are.

    Fit to be the error message of a failing pipeline stage: first line says which batch
    failed and how many expectations, then one ``- description`` line per failure, last
    line the Data Docs page. A passing batch gets a one-line confirmation plus the page.
    """
    day = f" of {outcome.day.isoformat()}" if outcome.day else ""
    head = f"{outcome.kind} batch {outcome.batch_id!r}{day} ({outcome.rows} rows)"
    where = f"Data Docs: {outcome.docs_page}"
    if outcome.success:
        return f"{head} passed all {outcome.evaluated} expectations.\n{where}"
    lines = [
        f"{head} failed validation: {len(outcome.failed)} of {outcome.evaluated} "
        "expectations failed:",
        *(f"  - {f.description}" for f in outcome.failed),
        where,
    ]
    return "\n".join(lines)
