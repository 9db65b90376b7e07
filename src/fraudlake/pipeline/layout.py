"""Where the pipeline's files live, relative to the project root (the DVC workspace)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """Folders of the pipeline's inputs and outputs; ``root`` is the project folder."""

    root: Path = Path(".")

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def staging(self) -> Path:
        return self.root / "data" / "staging"

    @property
    def quarantine(self) -> Path:
        return self.root / "data" / "quarantine"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report_dir(self, stage: str) -> Path:
        folder = self.reports / stage
        folder.mkdir(parents=True, exist_ok=True)
        return folder


@dataclass(frozen=True)
class BatchFile:
    """One daily batch file ``<folder>/<kind>/<YYYY-MM-DD>.parquet``."""

    kind: str
    day: dt.date
    path: Path

    @property
    def batch_id(self) -> str:
        return f"{self.kind}/{self.day.isoformat()}"


def batch_files(folder: Path, kinds: tuple[str, ...]) -> list[BatchFile]:
    """Every daily batch of the given kinds under ``folder``, in (kind order, day) order."""
    found = []
    for kind in kinds:
        for path in sorted((folder / kind).glob("*.parquet")):
            try:
                day = dt.date.fromisoformat(path.stem)
            except ValueError as exc:
                raise ValueError(f"{path}: batch files are named YYYY-MM-DD.parquet") from exc
            found.append(BatchFile(kind, day, path))
    return found
