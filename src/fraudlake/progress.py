"""Rich progress for long steps: a bar on a terminal, quiet periodic logs elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

console = Console(stderr=True)


def track(
    items: Sequence[T] | Iterable[T], description: str, total: int | None = None
) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar titled ``description``."""
    if total is None and isinstance(items, Sequence):
        total = len(items)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:
        yield from progress.track(items, total=total, description=description)
