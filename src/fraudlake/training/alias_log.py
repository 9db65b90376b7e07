"""Append-only history of model-registry alias changes.

MLflow keeps only where an alias points *now*. Every change made through
:mod:`fraudlake.training.registry` — a new challenger, a promotion, a rollback — is
appended here as an :class:`AliasChange`: when (UTC), which alias, from which version to
which, who, why and the metrics that justified it. Rollback reads this history to find
the previous champion, and auditors read it to see who promoted what and why.

:class:`AliasLog` is the whole surface a backend implements (``append`` and
``entries``); :class:`JsonlAliasLog` is the local one, a JSON-lines file written only by
appending. Another backend (an Iceberg table) can be added beside it.
"""

from __future__ import annotations

import datetime as dt
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AliasAction = Literal["register", "promote", "rollback"]


def utc_now() -> dt.datetime:
    """The current time, tz-aware UTC."""
    return dt.datetime.now(dt.UTC)


class AliasChange(BaseModel):
    """One alias move of one registered model.

    ``action`` says why the alias moved: ``register`` (a new challenger), ``promote``
    (champion moved forward, by the gate or by hand) or ``rollback`` (champion moved back
    to the version that held it before). ``from_version`` is ``None`` when the alias did
    not exist, ``to_version`` ``None`` when it was removed. ``at`` is always UTC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    at: dt.datetime = Field(default_factory=utc_now)
    model_name: str = Field(min_length=1)
    alias: str = Field(min_length=1)
    action: AliasAction
    from_version: int | None = None
    to_version: int | None = None
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    metrics: dict[str, float] = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        return value.astimezone(dt.UTC)


class AliasLog(ABC):
    """Where :class:`AliasChange` records go. Implementations never modify or delete a
    record once appended, and return records in the order they were appended."""

    @abstractmethod
    def append(self, change: AliasChange) -> None:
        """Durably add ``change`` after every earlier record (durable when this returns)."""

    @abstractmethod
    def entries(self) -> list[AliasChange]:
        """Every record, oldest first."""


class AliasLogError(RuntimeError):
    """The log cannot be read (a corrupt record); the message names file and line."""


class JsonlAliasLog(AliasLog):
    """An :class:`AliasLog` in a JSON-lines file: one record a line, appended with
    ``O_APPEND`` in a single write, then flushed and ``fsync``-ed. Existing bytes are never
    rewritten; a missing file is an empty log (created, with its folder, on first append)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"JsonlAliasLog({str(self.path)!r})"

    def append(self, change: AliasChange) -> None:
        line = change.model_dump_json().encode("utf-8") + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover - disk full or similar
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # make the new directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def entries(self) -> list[AliasChange]:
        if not self.path.exists():
            return []
        records: list[AliasChange] = []
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    records.append(AliasChange.model_validate_json(raw))
                except ValueError as exc:
                    raise AliasLogError(
                        f"{self.path}:{number}: not an alias change: {exc}"
                    ) from exc
        return records
