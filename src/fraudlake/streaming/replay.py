"""Replay raw batches onto Kafka: ``transactions`` (and ``labels``) in event-time order.

The source is the DVC-tracked raw batches (``data/raw/<table>/<day>.parquet``, what
``fraudlake simulate`` or ``dvc pull`` puts there). Card numbers are pseudonymised with
the platform's key before anything is published, as ingestion does. Transactions are
keyed by ``card_id`` (one card's transactions stay in order on one partition), labels by
transaction id. With labels, both streams are merged into one time order (a transaction
at its event time, a label at its report time), as they would arrive live.

``rate`` paces the publishing in events per second (0: as fast as the broker takes
them); the pacing is by schedule, not by sleeping per message, so a slow moment is
caught up instead of lowering the rate.
"""

from __future__ import annotations

import datetime as dt
import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from kafka import KafkaProducer

from fraudlake.privacy import pseudonymise_transactions
from fraudlake.stream_features.events import Label, Transaction


class ReplayInputError(ValueError):
    """The requested days are not in the raw batches; the message says what is there."""


@dataclass(frozen=True)
class ReplayResult:
    transactions: int
    labels: int
    seconds: float
    first_event: dt.datetime | None
    last_event: dt.datetime | None

    @property
    def rate(self) -> float:
        total = self.transactions + self.labels
        return total / self.seconds if self.seconds > 0 else 0.0


def _day_files(folder: Path, start: dt.date, days: int) -> list[Path]:
    wanted = [start + dt.timedelta(days=i) for i in range(days)]
    return [folder / f"{day.isoformat()}.parquet" for day in wanted]


def raw_days(raw: Path) -> list[dt.date]:
    """The days with a raw transactions batch in ``raw``, oldest first."""
    return sorted(dt.date.fromisoformat(p.stem) for p in (raw / "transactions").glob("*.parquet"))


#: What a ``--start`` option takes besides a ``YYYY-MM-DD`` date.
LAST_DAY = "last"
LABELLED_DAY = "labelled"


def pick_day(raw: Path, spec: str | None, label_delay_days: Callable[[], int]) -> dt.date:
    """The raw day ``spec`` names: a ``YYYY-MM-DD`` date; ``last`` (or None) — the last
    raw day; ``labelled`` — the last day whose investigations have all come back within
    the data (``label_delay_days()`` before the last day: a transaction of that day is
    reported on its day at most that many days later; asked only for ``labelled``, so a
    dated replay needs no ``params.yaml``). :class:`ReplayInputError` names what the raw
    batches hold when the day is not there."""
    days = raw_days(raw)
    if not days:
        raise ReplayInputError(
            f"no raw transactions in {raw / 'transactions'}; run `fraudlake simulate` or `dvc pull`"
        )
    span = f"{days[0]} .. {days[-1]}"
    if spec in (None, LAST_DAY):
        return days[-1]
    if spec == LABELLED_DAY:
        delay = label_delay_days()
        day = days[-1] - dt.timedelta(days=delay)
        if day < days[0]:
            raise ReplayInputError(
                f"no day in {span} has all its labels: they come up to {delay} "
                f"day(s) late; simulate more than {delay} days"
            )
        return day
    try:
        day = dt.date.fromisoformat(spec)
    except ValueError:
        raise ReplayInputError(
            f"{spec!r} is not a day: give YYYY-MM-DD, {LAST_DAY!r} or {LABELLED_DAY!r}"
        ) from None
    if day not in days:
        raise ReplayInputError(f"no raw transactions of {day} in {raw} (it holds {span})")
    return day


def labels_of_day(raw: Path, day: dt.date) -> pa.Table:
    """The labels of ``day``'s transactions, whenever they were reported (to the end of
    the data), sorted by report time: that day's investigations coming back."""
    ids = read_raw_transactions(raw, day, 1).column("transaction_id")
    report_days = sorted(dt.date.fromisoformat(p.stem) for p in (raw / "labels").glob("*.parquet"))
    if not report_days or report_days[-1] < day:
        return pa.table({})
    first = dt.datetime.combine(day, dt.time(), dt.UTC)
    last = dt.datetime.combine(report_days[-1], dt.time.max, dt.UTC)
    labels = read_labels(raw, first, last)
    if not labels.num_rows:
        return labels
    return labels.filter(pc.is_in(labels["transaction_id"], ids))


def read_transactions(raw: Path, start: dt.date, days: int, hmac_key: bytes) -> pa.Table:
    """The days' transactions, pseudonymised, sorted by (event time, transaction id)."""
    return pseudonymise_transactions(read_raw_transactions(raw, start, days), hmac_key)


def read_raw_transactions(raw: Path, start: dt.date, days: int) -> pa.Table:
    """The days' transactions as the card network sent them (card numbers included),
    sorted by (event time, transaction id); :class:`ReplayInputError` names missing days."""
    files = _day_files(raw / "transactions", start, days)
    missing = [f for f in files if not f.exists()]
    if missing:
        present = sorted(p.stem for p in (raw / "transactions").glob("*.parquet"))
        span = f"{present[0]} .. {present[-1]}" if present else "nothing"
        raise ReplayInputError(
            f"no raw transactions for {', '.join(f.stem for f in missing[:3])}"
            f"{' …' if len(missing) > 3 else ''} in {raw / 'transactions'} (it holds {span}); "
            "run `fraudlake simulate` or `dvc pull`, or pick days inside that range"
        )
    table = pa.concat_tables(pq.read_table(f) for f in files)
    return table.sort_by([("event_ts", "ascending"), ("transaction_id", "ascending")])


def read_labels(raw: Path, first: dt.datetime, last: dt.datetime) -> pa.Table:
    """Labels reported in ``[first, last]``, sorted by report time. Label files are named
    by report day; a missing day simply has no labels."""
    files = [
        raw / "labels" / f"{(first.date() + dt.timedelta(days=i)).isoformat()}.parquet"
        for i in range((last.date() - first.date()).days + 1)
    ]
    tables = [pq.read_table(f) for f in files if f.exists()]
    if not tables:
        return pa.table({})
    table = pa.concat_tables(tables)
    ts = table.column("reported_at")
    keep = pc.and_(
        pc.greater_equal(ts, pa.scalar(first, ts.type)),
        pc.less_equal(ts, pa.scalar(last, ts.type)),
    )
    return table.filter(keep).sort_by(
        [("reported_at", "ascending"), ("transaction_id", "ascending")]
    )


def merged_events(transactions: pa.Table, labels: pa.Table) -> Iterator[Transaction | Label]:
    """Transactions at their event time and labels at their report time, in one order
    (at one instant, transactions first)."""
    txs = ((t.event_us, 0, t) for t in map(Transaction.from_row, transactions.to_pylist()))
    lbs = (
        ((lb.reported_us, 1, lb) for lb in map(Label.from_row, labels.to_pylist()))
        if labels.num_rows
        else iter(())
    )
    merged: Iterator[tuple[int, int, Transaction | Label]] = heapq.merge(
        txs, lbs, key=lambda e: (e[0], e[1])
    )
    for _, _, event in merged:
        yield event


def publish(
    events: Iterator[Transaction | Label],
    bootstrap: str,
    rate: float = 0.0,
    on_sent: Callable[[Transaction | Label], None] = lambda event: None,
    transactions_topic: str = "transactions",
    labels_topic: str = "labels",
) -> ReplayResult:
    """Send every event, paced at ``rate`` events/s (0: unpaced); waits until the broker
    acknowledged all of them (``acks=all``)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        # Retries after a broker restart must not write an event twice.
        enable_idempotence=True,
        linger_ms=5,
        client_id="fraudlake-replay",
        request_timeout_ms=30_000,
    )
    counts = {"transactions": 0, "labels": 0}
    first: int | None = None
    last: int | None = None
    started = time.monotonic()
    try:
        for i, event in enumerate(events):
            if rate > 0:
                due = started + i / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            if isinstance(event, Transaction):
                producer.send(transactions_topic, event.to_json(), key=event.card_id.encode())
                counts["transactions"] += 1
                first = event.event_us if first is None else first
                last = event.event_us
            else:
                producer.send(labels_topic, event.to_json(), key=str(event.transaction_id).encode())
                counts["labels"] += 1
            on_sent(event)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return ReplayResult(
        transactions=counts["transactions"],
        labels=counts["labels"],
        seconds=time.monotonic() - started,
        first_event=None if first is None else epoch + dt.timedelta(microseconds=first),
        last_event=None if last is None else epoch + dt.timedelta(microseconds=last),
    )
