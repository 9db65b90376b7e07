"""``fraudlake online …``: the Redis online store from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

online_app = typer.Typer(
    help="The Redis online store the streaming job writes and the scoring service reads.",
    no_args_is_help=True,
)
console = Console(stderr=True)
DEFAULT_REDIS_URL = "redis://127.0.0.1:56379/0"
#: ``--redis-url``, else ``$FRAUDLAKE_REDIS_URL`` (set by ``fraudlake stack env``).
RedisUrlOption = Annotated[
    str,
    typer.Option(envvar="FRAUDLAKE_REDIS_URL", help="Redis URL of the online store."),
]


@online_app.command("load-profiles")
def load_profiles_cmd(
    redis_url: RedisUrlOption = DEFAULT_REDIS_URL,
) -> None:
    """Copy the customer profiles of Iceberg `raw.customers` into Redis, where the online
    reader takes the request-time features' inputs from (home, usual amount)."""
    import redis
    from pyiceberg.exceptions import NoSuchTableError

    from fraudlake.lake.catalog import open_catalog
    from fraudlake.online.profiles import write_profiles
    from fraudlake.settings import get_settings

    try:
        table = open_catalog(get_settings()).load_table("raw.customers")
    except NoSuchTableError as exc:
        console.print("[red]raw.customers does not exist yet[/red]; run the batch pipeline first")
        raise typer.Exit(1) from exc
    rows = table.scan().to_arrow().to_pylist()
    client = redis.Redis.from_url(redis_url)
    try:
        written = write_profiles(client, rows)
    except redis.RedisError as exc:
        console.print(f"[red]cannot write to Redis at {redis_url}[/red]: {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    console.print(f"wrote {written} customer profiles to {redis_url}")


@online_app.command("stats")
def stats_cmd(
    redis_url: RedisUrlOption = DEFAULT_REDIS_URL,
) -> None:
    """What the online store holds: per entity the keys, transactions and known frauds
    kept for the windows, the customer profiles, and the newest transaction's time."""
    import datetime as dt

    import redis
    from rich.table import Table

    from fraudlake.online.inventory import take_inventory

    client = redis.Redis.from_url(redis_url)
    try:
        found = take_inventory(client)
    except redis.RedisError as exc:
        console.print(f"[red]cannot read Redis at {redis_url}[/red]: {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    table = Table(
        "entity", "keys", "transactions", "known frauds", title=f"online store {redis_url}"
    )
    for entity, counts in sorted(found.entities.items()):
        table.add_row(entity, f"{counts.keys:,}", f"{counts.transactions:,}", f"{counts.frauds:,}")
    Console().print(table)
    newest = (
        dt.datetime.fromtimestamp(found.newest_us / 1e6, dt.UTC).isoformat()
        if found.newest_us is not None
        else "none"
    )
    Console().print(f"customer profiles: {found.profiles:,}; newest transaction: {newest}")


@online_app.command("migrate-layout")
def migrate_layout_cmd(
    redis_url: RedisUrlOption = DEFAULT_REDIS_URL,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; change nothing.")
    ] = False,
) -> None:
    """Rewrite a store written by an earlier fraudlake (members
    `<transaction_id>:<value>`) to the current layout
    (`<event_us>:<transaction_id>:<value>`), in place, keeping every set's expiry.
    Run it after upgrading, before the new scoring replicas take traffic; it is
    idempotent (a second run changes only what an old writer added meanwhile)."""
    import redis
    from rich.progress import Progress

    from fraudlake.online.migrate_layout import migrate_members, window_sets

    client = redis.Redis.from_url(redis_url)
    try:
        keys = window_sets(client)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("window sets", total=len(keys))
            done = migrate_members(client, keys, dry_run, on_set=lambda: progress.advance(task))
    except redis.RedisError as exc:
        console.print(f"[red]cannot read or write Redis at {redis_url}[/red]: {exc}")
        raise typer.Exit(1) from exc
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    verb = "would rewrite" if dry_run else "rewrote"
    console.print(
        f"{redis_url}: {done.sets_scanned:,} window sets, {verb} {done.members_rewritten:,} "
        f"members in {done.sets_rewritten:,} of them"
    )
