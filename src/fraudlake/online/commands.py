"""``fraudlake online …``: the Redis online store from the command line."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

online_app = typer.Typer(
    help="The Redis online store the streaming job writes and the scoring service reads.",
    no_args_is_help=True,
)
console = Console(stderr=True)
DEFAULT_REDIS_URL = "redis://127.0.0.1:56379/0"


@online_app.command("load-profiles")
def load_profiles_cmd(
    redis_url: Annotated[
        str | None,
        typer.Option(help="Redis URL (default: $FRAUDLAKE_REDIS_URL, else the stack's)."),
    ] = None,
) -> None:
    """Copy the customer profiles of Iceberg `raw.customers` into Redis, where the online
    reader takes the request-time features' inputs from (home, usual amount)."""
    import redis
    from pyiceberg.exceptions import NoSuchTableError

    from fraudlake.lake.catalog import open_catalog
    from fraudlake.online.profiles import write_profiles
    from fraudlake.settings import get_settings

    url = redis_url or os.environ.get("FRAUDLAKE_REDIS_URL") or DEFAULT_REDIS_URL
    try:
        table = open_catalog(get_settings()).load_table("raw.customers")
    except NoSuchTableError as exc:
        console.print("[red]raw.customers does not exist yet[/red]; run the batch pipeline first")
        raise typer.Exit(1) from exc
    rows = table.scan().to_arrow().to_pylist()
    client = redis.Redis.from_url(url)
    try:
        written = write_profiles(client, rows)
    except redis.RedisError as exc:
        console.print(f"[red]cannot write to Redis at {url}[/red]: {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    console.print(f"wrote {written} customer profiles to {url}")


@online_app.command("stats")
def stats_cmd(
    redis_url: Annotated[
        str | None,
        typer.Option(help="Redis URL (default: $FRAUDLAKE_REDIS_URL, else the stack's)."),
    ] = None,
) -> None:
    """What the online store holds: per entity the keys, transactions and known frauds
    kept for the windows, the customer profiles, and the newest transaction's time."""
    import datetime as dt

    import redis
    from rich.table import Table

    from fraudlake.online.inventory import take_inventory

    url = redis_url or os.environ.get("FRAUDLAKE_REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url)
    try:
        found = take_inventory(client)
    except redis.RedisError as exc:
        console.print(f"[red]cannot read Redis at {url}[/red]: {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    table = Table("entity", "keys", "transactions", "known frauds", title=f"online store {url}")
    for entity, counts in sorted(found.entities.items()):
        table.add_row(entity, f"{counts.keys:,}", f"{counts.transactions:,}", f"{counts.frauds:,}")
    Console().print(table)
    newest = (
        dt.datetime.fromtimestamp(found.newest_us / 1e6, dt.UTC).isoformat()
        if found.newest_us is not None
        else "none"
    )
    Console().print(f"customer profiles: {found.profiles:,}; newest transaction: {newest}")
