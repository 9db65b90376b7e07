"""``fraudlake stream features``: the plain-Python feature consumer from the command line."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fraudlake.online.commands import DEFAULT_REDIS_URL, RedisUrlOption

console = Console(stderr=True)


def features_cmd(
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (default: $FRAUDLAKE_KAFKA_BOOTSTRAP)."),
    ] = None,
    redis_url: RedisUrlOption = DEFAULT_REDIS_URL,
    feature_defs: Annotated[Path, typer.Option(help="The feature_defs/ folder.")] = Path(
        "feature_defs"
    ),
    transactions_topic: Annotated[
        str, typer.Option(help="Topic `fraudlake replay` writes transactions to.")
    ] = "transactions",
    labels_topic: Annotated[
        str, typer.Option(help="Topic of the investigation labels.")
    ] = "labels",
    features_topic: Annotated[
        str, typer.Option(help="Topic for one feature row per transaction.")
    ] = "features",
    out_of_orderness_ms: Annotated[
        int, typer.Option(min=0, help="Watermark bound, as the Flink job's.")
    ] = 5000,
    idle_timeout_ms: Annotated[
        int, typer.Option(min=1, help="A partition silent this long stops holding the watermark.")
    ] = 10_000,
    flush_after_ms: Annotated[
        int,
        typer.Option(min=1, help="Apply what waits once the watermark stood still this long."),
    ] = 30_000,
    max_rows: Annotated[
        int, typer.Option(min=0, help="Stop after publishing this many rows (0: until Ctrl-C).")
    ] = 0,
) -> None:
    """Compute the streaming features in this one process — the same stages, Redis writes
    and `features` rows as the Flink job, without a cluster or checkpoints (state in
    memory, topics read from the beginning). The baseline of `make bench`; for production
    run the Flink job (`fraudlake stack flink submit`). Ctrl-C (or SIGTERM) stops it after
    publishing what waits; the counts are printed as JSON on stdout."""
    from fraudlake.features.definitions import load_feature_set
    from fraudlake.streaming.feature_consumer import ConsumerOptions, run_consumer
    from fraudlake.streaming.kafka_to_lake import kafka_bootstrap

    options = ConsumerOptions(
        bootstrap=bootstrap or kafka_bootstrap(),
        redis_url=redis_url,
        transactions_topic=transactions_topic,
        labels_topic=labels_topic,
        features_topic=features_topic,
        out_of_orderness_ms=out_of_orderness_ms,
        idle_timeout_ms=idle_timeout_ms,
        flush_after_ms=flush_after_ms,
    )
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    console.print(
        f"consuming {transactions_topic} and {labels_topic} from {options.bootstrap}; "
        f"rows → {features_topic}, online store → {options.redis_url}"
    )
    try:
        result = run_consumer(
            options,
            load_feature_set(feature_defs),
            lambda r: bool(stopping) or (max_rows > 0 and r.rows >= max_rows),
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"{result.transactions} transactions and {result.labels} labels in "
        f"{result.seconds:.1f} s; {result.rows} rows to {features_topic} "
        f"({result.late} late, {result.invalid} invalid messages skipped)"
    )
    print(json.dumps(result.__dict__))
