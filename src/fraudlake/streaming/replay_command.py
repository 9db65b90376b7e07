"""``fraudlake replay``: raw batches onto Kafka, with progress and a final count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fraudlake.settings import get_settings

console = Console(stderr=True)


def replay_cmd(
    start: Annotated[
        str | None,
        typer.Option(
            metavar="DAY",
            help="First day to replay: YYYY-MM-DD, `labelled` (the last day whose "
            "investigations all came back within the data) or `last`. Default: the last "
            "DAYS raw days.",
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="How many days from START.")] = 1,
    rate: Annotated[
        float, typer.Option(min=0, help="Events per second; 0 sends as fast as Kafka takes them.")
    ] = 0.0,
    labels: Annotated[
        bool, typer.Option(help="Also replay the labels reported in those days onto `labels`.")
    ] = True,
    raw: Annotated[Path, typer.Option(help="Raw batches folder (DVC-tracked).")] = Path("data/raw"),
    labels_of: Annotated[
        str | None,
        typer.Option(
            metavar="DAY",
            help="Instead of days of traffic, send only the labels of this day's transactions "
            "(YYYY-MM-DD, `labelled` or `last`), whenever they were reported: its "
            "investigations coming back.",
        ),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (default: $FRAUDLAKE_KAFKA_BOOTSTRAP)."),
    ] = None,
) -> None:
    """Stream raw transactions onto Kafka `transactions` in event-time order, keyed by card
    (card numbers pseudonymised first), with their labels on `labels` at report time.

    `--labels-of DAY` sends a day's investigation outcomes instead (after that day was
    scored through the API, say): the feedback a case-management system would send."""
    # Imported here: pyarrow and the Kafka client would slow every `fraudlake --help`.
    import pyarrow as pa

    from fraudlake.cli import label_delay_days
    from fraudlake.streaming.kafka_to_lake import kafka_bootstrap
    from fraudlake.streaming.replay import (
        ReplayInputError,
        labels_of_day,
        merged_events,
        pick_day,
        publish,
        read_labels,
        read_transactions,
    )

    if labels_of is not None and start is not None:
        console.print("[red]give --start (days of traffic) or --labels-of (a day's labels)[/red]")
        raise typer.Exit(2)

    try:
        if labels_of is not None:
            first_day, days = pick_day(raw, labels_of, label_delay_days), 1
            transactions = pa.table({})
            label_rows = labels_of_day(raw, first_day)
        else:
            first_day = pick_day(raw, start, label_delay_days)
            if start is None:  # the last DAYS days
                first_day -= dt.timedelta(days=days - 1)
            key = get_settings().hmac_key_bytes()
            transactions = read_transactions(raw, first_day, days, key)
            label_rows = pa.table({})
            if labels and transactions.num_rows:
                ts = transactions.column("event_ts")
                label_rows = read_labels(raw, ts[0].as_py(), ts[-1].as_py())
    except ReplayInputError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    total = transactions.num_rows + label_rows.num_rows
    target = bootstrap or kafka_bootstrap()
    what = (
        f"{label_rows.num_rows} labels of {first_day}'s transactions"
        if labels_of is not None
        else f"{transactions.num_rows} transactions and {label_rows.num_rows} labels of "
        f"{first_day} (+{days - 1} days)"
    )
    console.print(
        f"replaying {what} to Kafka {target}"
        + (f" at {rate:g} events/s" if rate else ", as fast as possible")
    )
    with Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("replay", total=total)
        result = publish(
            merged_events(transactions, label_rows),
            target,
            rate,
            on_sent=lambda _: progress.advance(task),
        )
    console.print(
        f"sent {result.transactions} transactions to `transactions` and {result.labels} labels "
        f"to `labels` in {result.seconds:.1f} s ({result.rate:,.0f} events/s); event time "
        f"{result.first_event} .. {result.last_event}"
    )
