"""Stage ``validate``: the quality gate between staging and the lake.

Every staged batch is checked by its Great Expectations suite (a batch that passed an
earlier run with the same bytes and suite keeps that verdict without GX running again;
see :mod:`fraudlake.validation.gate`). A passing batch is
published to its ``raw.*`` table exactly once (see :mod:`fraudlake.lake.batches`); a
failing one is copied to ``data/quarantine/`` with the reasons beside it and *nothing of
it* is written. Batches that left ``data/raw`` are retired from the lake, so the lake
always mirrors the DVC-versioned raw data. Any quarantined batch fails the stage with a
message naming the failed expectations and where the Data Docs are.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.expressions import And, BooleanExpression, EqualTo, GreaterThanOrEqual, LessThan

from fraudlake.lake.batches import file_hash, live_batches, publish_batch, retire_batch
from fraudlake.lake.catalog import open_catalog
from fraudlake.lake.snapshots import current_snapshot_ids
from fraudlake.lake.tables import RAW_TABLES, TableSpec, ensure_table
from fraudlake.params import Params
from fraudlake.pipeline.layout import BatchFile, Layout, batch_files
from fraudlake.progress import track
from fraudlake.settings import Settings
from fraudlake.validation import BatchValidator, ValidationOutcome, summary

log = logging.getLogger(__name__)

#: Customers first: transactions are checked against the customers known so far.
ORDER = ("customers", "transactions", "labels", "fraud_intel")


class BatchesQuarantined(RuntimeError):
    """Some batches failed validation; they are in quarantine and not in the lake."""


@dataclass
class ValidateResult:
    published: dict[str, str] = field(default_factory=dict)
    quarantined: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    #: passing batches whose verdict of an earlier run was reused (same bytes and suite)
    verdicts_reused: int = 0
    snapshots: dict[str, int | None] = field(default_factory=dict)
    data_docs: str = ""


def batch_rows(spec: TableSpec, day: dt.date) -> BooleanExpression:
    """The rows of ``spec``'s table that belong to the batch of ``day``."""
    column = spec.partition_by_day
    if pa.types.is_date(spec.schema.field(column).type):
        return EqualTo(term=column, value=day.isoformat())
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return And(
        GreaterThanOrEqual(term=column, value=start.isoformat()),
        LessThan(term=column, value=(start + dt.timedelta(days=1)).isoformat()),
    )


def _quarantine(batch: BatchFile, outcome: ValidationOutcome, layout: Layout) -> Path:
    target = layout.quarantine / batch.kind / batch.path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(batch.path, target)
    target.with_suffix(".json").write_text(outcome.model_dump_json(indent=2))
    return target


def gx_root(settings: Settings) -> Path:
    """The Great Expectations project folder of the pipeline."""
    return settings.resolved_home / "gx"


def run_validate(params: Params, settings: Settings, layout: Layout) -> ValidateResult:
    """Validate every staged batch; publish the good ones, quarantine the bad ones."""
    staged = batch_files(layout.staging, ORDER)
    if not staged:
        raise FileNotFoundError(f"no staged batches under {layout.staging}: run `fraudlake ingest`")
    catalog = open_catalog(settings)
    tables = {kind: ensure_table(catalog, spec) for kind, spec in RAW_TABLES.items()}
    ledgers = {kind: live_batches(table) for kind, table in tables.items()}
    validator = BatchValidator(gx_root(settings), params.simulate)
    known_customers = set(
        tables["customers"].scan(selected_fields=("customer_id",)).to_arrow().column(0).to_pylist()
    )
    result = ValidateResult()
    failures: list[ValidationOutcome] = []
    if layout.quarantine.exists():
        shutil.rmtree(layout.quarantine)

    for batch in track(staged, "validating and publishing batches"):
        data = pq.read_table(batch.path)
        content_hash = file_hash(batch.path)
        outcome = validator.validate(
            batch.kind,
            data.to_pandas(),
            batch_id=batch.batch_id,
            day=batch.day if batch.kind != "customers" else None,
            known_customer_ids=known_customers if batch.kind == "transactions" else None,
            content_hash=content_hash,
        )
        result.verdicts_reused += outcome.reused
        if not outcome.success:
            where = _quarantine(batch, outcome, layout)
            log.warning("quarantined %s → %s", batch.batch_id, where)
            result.quarantined.append(batch.batch_id)
            failures.append(outcome)
            continue
        spec = RAW_TABLES[batch.kind]
        published = publish_batch(
            tables[batch.kind],
            data,
            batch_id=batch.batch_id,
            content_hash=content_hash,
            batch_rows=batch_rows(spec, batch.day),
            live=ledgers[batch.kind],
        )
        result.published[batch.batch_id] = published.action
        if batch.kind == "customers":
            known_customers.update(data.column("customer_id").to_pylist())

    staged_ids = {b.batch_id for b in staged}
    for kind, ledger in ledgers.items():
        for batch_id in sorted(set(ledger) - staged_ids - set(result.quarantined)):
            day = dt.date.fromisoformat(batch_id.split("/", 1)[1])
            retire_batch(
                tables[kind],
                batch_id=batch_id,
                batch_rows=batch_rows(RAW_TABLES[kind], day),
                live=ledger,
            )
            result.retired.append(batch_id)

    result.data_docs = str(validator.build_docs())
    result.snapshots = current_snapshot_ids(catalog, [s.identifier for s in RAW_TABLES.values()])
    report = layout.report_dir("validation") / "summary.json"
    report.write_text(
        json.dumps(
            # what the lake holds and why; not how (verdicts reused), which varies by run
            {k: v for k, v in result.__dict__.items() if k not in ("data_docs", "verdicts_reused")},
            indent=2,
            sort_keys=True,
        )
    )
    actions = list(result.published.values())
    log.info(
        "validated %d batches (%d verdicts reused: same bytes, same suite): %d appended, "
        "%d replaced, %d unchanged, %d retired, %d quarantined; Data Docs: %s",
        len(staged),
        result.verdicts_reused,
        actions.count("appended"),
        actions.count("replaced"),
        actions.count("skipped"),
        len(result.retired),
        len(result.quarantined),
        result.data_docs,
    )
    if failures:
        details = "\n\n".join(summary(o) for o in failures)
        raise BatchesQuarantined(
            f"{len(failures)} batch(es) failed validation and were quarantined in "
            f"{layout.quarantine} (nothing of them was written to the lake):\n\n{details}\n\n"
            f"Data Docs: {result.data_docs}\n"
            "Fix the source data (or the expectation if it is wrong) and run the stage again."
        )
    return result
