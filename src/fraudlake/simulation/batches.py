"""Write a simulation as daily Parquet batches plus a ``manifest.json``.

Layout under ``out_dir`` (the one :mod:`fraudlake.pipeline.layout` reads)::

    transactions/YYYY-MM-DD.parquet   by event_ts day, one file for every simulated day
    labels/YYYY-MM-DD.parquet         by reported_at day, only days with labels
    fraud_intel/YYYY-MM-DD.parquet    by reported_at day, only days with reports
    customers/<start_date>.parquet    the customer profiles, one file
    manifest.json                     what was written (see :class:`BatchManifest`)

Each file carries its contract schema from :data:`fraudlake.schemas.RAW_BATCHES`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudlake.progress import track
from fraudlake.schemas import BATCH_DAY_COLUMN, RAW_BATCHES
from fraudlake.simulation.frame import Scenario
from fraudlake.simulation.result import Simulation
from fraudlake.simulation.timeline import US_PER_DAY, Timeline

MANIFEST_NAME = "manifest.json"
#: Daily kinds, written by the day of their :data:`fraudlake.schemas.BATCH_DAY_COLUMN`.
DAILY_KINDS: tuple[str, ...] = ("transactions", "labels", "fraud_intel")
#: Daily kinds written even on a day without rows (an empty file says "nothing today").
_ALWAYS_WRITTEN = frozenset({"transactions"})


@dataclass(frozen=True)
class BatchManifest:
    """Summary of one :func:`write_batches` run, also stored as ``manifest.json``.

    ``rows`` and ``files`` count what was written per kind; ``fraud_rate`` is the share
    of fraud among all transactions (ground truth, not only the labels known by the
    end) and ``fraud_rate_by_scenario`` splits it by scenario (rates sum to
    ``fraud_rate``). ``manifest.json`` is written last, so it marks a complete set.
    """

    profile: str
    seed: int
    start_date: dt.date
    days: int
    rows: dict[str, int]
    files: dict[str, int]
    frauds: int
    fraud_rate: float
    fraud_rate_by_scenario: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO strings)."""
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchManifest:
        """Inverse of :meth:`to_json`."""
        return cls(**{**data, "start_date": dt.date.fromisoformat(data["start_date"])})

    @classmethod
    def read(cls, out_dir: Path) -> BatchManifest:
        """The manifest stored in ``out_dir``."""
        return cls.from_json(json.loads((out_dir / MANIFEST_NAME).read_text()))


def write_batches(sim: Simulation, out_dir: Path) -> BatchManifest:
    """Write ``sim`` under ``out_dir`` as daily Parquet files and return the manifest.

    First removes this function's own outputs (the kind folders and ``manifest.json``;
    nothing else in ``out_dir``), so a re-run never leaves stale days behind. Shows a
    progress bar on a terminal.
    """
    out_dir = Path(out_dir)
    timeline = Timeline(sim.params.start_date, sim.params.days)
    tables = {
        "transactions": sim.transactions,
        "labels": sim.labels,
        "fraud_intel": sim.fraud_intel,
    }
    # Split (and so validate) before deleting anything: a bad input keeps the old batches.
    split = {
        kind: _split_by_day(table, BATCH_DAY_COLUMN[kind], timeline)
        for kind, table in tables.items()
    }
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    for kind in RAW_BATCHES:
        shutil.rmtree(out_dir / kind, ignore_errors=True)
        (out_dir / kind).mkdir(parents=True)
    rows = dict.fromkeys(RAW_BATCHES, 0)
    files = dict.fromkeys(RAW_BATCHES, 0)
    for day in track(range(timeline.days), "writing daily batches", total=timeline.days):
        name = f"{timeline.date_of(day).isoformat()}.parquet"
        for kind in DAILY_KINDS:
            sorted_table, bounds = split[kind]
            batch = sorted_table.slice(bounds[day], bounds[day + 1] - bounds[day])
            if batch.num_rows or kind in _ALWAYS_WRITTEN:
                _write(batch, RAW_BATCHES[kind], out_dir / kind / name)
                rows[kind] += batch.num_rows
                files[kind] += 1
    _write(
        sim.customers,
        RAW_BATCHES["customers"],
        out_dir / "customers" / f"{timeline.start_date.isoformat()}.parquet",
    )
    rows["customers"] = sim.customers.num_rows
    files["customers"] = 1

    manifest = _manifest(sim, rows, files)
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest


def _write(table: pa.Table, schema: pa.Schema, path: Path) -> None:
    # cast() fails loudly if a table drifted from its contract instead of writing it.
    pq.write_table(table.cast(schema), path)


def _split_by_day(table: pa.Table, column: str, timeline: Timeline) -> tuple[pa.Table, list[int]]:
    """``table`` ordered by day of ``column`` and the row bounds of each day.

    Day ``d``'s rows are ``bounds[d] .. bounds[d + 1] - 1``. Raises ``ValueError`` for a
    row outside the simulated days (it would belong to no batch).
    """
    us = table.column(column).cast(pa.int64()).to_numpy()
    day = (us - timeline.start_us) // US_PER_DAY
    if len(day) and (day.min() < 0 or day.max() >= timeline.days):
        raise ValueError(
            f"{column} outside the simulated days {timeline.start_date} + {timeline.days}"
        )
    if np.any(day[1:] < day[:-1]):
        order = np.argsort(day, kind="stable")
        table, day = table.take(pa.array(order)), day[order]
    bounds = np.searchsorted(day, np.arange(timeline.days + 1))
    return table, [int(b) for b in bounds]


def _manifest(sim: Simulation, rows: dict[str, int], files: dict[str, int]) -> BatchManifest:
    n = sim.truth.num_rows
    counts = pc.value_counts(sim.truth.column("fraud_scenario")).to_pylist()
    by_label = {c["values"]: int(c["counts"]) for c in counts}
    scenarios = [s.label for s in Scenario if s is not Scenario.NONE]
    frauds = sum(by_label.get(label, 0) for label in scenarios)
    return BatchManifest(
        profile=sim.params.profile,
        seed=sim.params.seed,
        start_date=sim.params.start_date,
        days=sim.params.days,
        rows=rows,
        files=files,
        frauds=frauds,
        fraud_rate=frauds / n if n else 0.0,
        fraud_rate_by_scenario={
            label: by_label.get(label, 0) / n if n else 0.0 for label in scenarios
        },
    )
