"""``fraudlake model list|history``: the registry's versions and its alias log as tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fraudlake.params import Params
from fraudlake.pipeline.register import open_registry
from fraudlake.settings import Settings


def print_versions(params: Params, settings: Settings, console: Console) -> None:
    """Every version of the registered model, newest first, with aliases and gate result."""
    from mlflow.exceptions import MlflowException

    registry = open_registry(params, settings)
    client = registry.client
    try:
        aliases = client.get_registered_model(registry.name).aliases
    except MlflowException:
        console.print(f"no registered model {registry.name!r} yet: run `dvc repro`")
        return
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    table = Table(title=f"{registry.name} in {settings.resolved_mlflow_uri}")
    for column in ("version", "aliases", "family", "avg precision", "gate", "created"):
        table.add_column(column)
    versions = sorted(
        client.search_model_versions(f"name='{registry.name}'"),
        key=lambda v: int(v.version),
        reverse=True,
    )
    for mv in versions:
        table.add_row(
            str(mv.version),
            ", ".join(sorted(by_version.get(str(mv.version), []))),
            mv.tags.get("fraudlake.family", ""),
            mv.tags.get("fraudlake.average_precision", "")[:6],
            mv.tags.get("gate.decision", ""),
            str(mv.creation_timestamp and _ms_to_iso(mv.creation_timestamp)),
        )
    console.print(table)
    gated = [mv for mv in versions if mv.tags.get("gate.reason")]
    if gated:  # why the newest gated version was promoted or not
        newest = gated[0]
        console.print(
            f"gate on v{newest.version}: {newest.tags.get('gate.decision')} — "
            f"{newest.tags['gate.reason']}"
        )


def _ms_to_iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_history(params: Params, settings: Settings, console: Console) -> None:
    """The alias log of the registered model, oldest first."""
    registry = open_registry(params, settings)
    entries = [e for e in registry.alias_log.entries() if e.model_name == registry.name]
    table = Table(title=f"alias changes of {registry.name} ({settings.resolved_alias_log})")
    for column in ("when (UTC)", "alias", "action", "from", "to", "by", "why"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.alias,
            e.action,
            "—" if e.from_version is None else f"v{e.from_version}",
            "—" if e.to_version is None else f"v{e.to_version}",
            e.actor,
            e.reason,
        )
    console.print(table if entries else "the alias log is empty: nothing registered yet")
