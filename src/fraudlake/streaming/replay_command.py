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
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First day to replay (default: the last raw day)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="How many days from START.")] = 1,
    rate: Annotated[
        float, typer.Option(min=0, help="Events per second; 0 sends as fast as Kafka takes them.")
    ] = 0.0,
    labels: Annotated[
        bool, typer.Option(help="Also replay the labels reported in those days onto `labels`.")
    ] = True,
    raw: Annotated[Path, typer.Option(help="Raw batches folder (DVC-tracked).")] = Path("data/raw"),
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (default: $FRAUDLAKE_KAFKA_BOOTSTRAP)."),
    ] = None,
) -> None:
    """Stream raw transactions onto Kafka `transactions` in event-time order, keyed by card
    (card numbers pseudonymised first), with their labels on `labels` at report time."""
    # Imported here: pyarrow and the Kafka client would slow every `fraudlake --help`.
    from fraudlake.streaming.kafka_to_lake import kafka_bootstrap
    from fraudlake.streaming.replay import (
        ReplayInputError,
        merged_events,
        publish,
        raw_days,
        read_labels,
        read_transactions,
    )

    if start is None:
        days_present = raw_days(raw)
        if not days_present:
            console.print(
                f"[red]no raw transactions in {raw}/transactions[/red]; "
                "run `fraudlake simulate` or `dvc pull`"
            )
            raise typer.Exit(1)
        first_day = days_present[-1] - dt.timedelta(days=days - 1)
    else:
        first_day = start.date()
    try:
        transactions = read_transactions(raw, first_day, days, get_settings().hmac_key_bytes())
    except ReplayInputError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if labels and transactions.num_rows:
        ts = transactions.column("event_ts")
        label_rows = read_labels(raw, ts[0].as_py(), ts[-1].as_py())
    else:
        label_rows = transactions.schema.empty_table().select([])
    total = transactions.num_rows + label_rows.num_rows
    target = bootstrap or kafka_bootstrap()
    console.print(
        f"replaying {transactions.num_rows} transactions and {label_rows.num_rows} labels of "
        f"{first_day} (+{days - 1} days) to Kafka {target}"
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
