"""Dead letters on disk: one JSON line per malformed message, one file per topic.

The file is ``<home>/dead-letters/<topic>.jsonl`` (``home`` is the settings' state
folder). The sink writes a drain's dead letters *before* it commits that drain's offsets,
so a crash in between cannot lose them; the drain that replays those messages then finds
them already in the file (same partition and offset) and does not write them twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from fraudlake.streaming.messages import DeadLetter

FOLDER = "dead-letters"


def dead_letter_path(home: Path, topic: str) -> Path:
    """Where ``topic``'s dead letters go (Kafka topic names are safe file names)."""
    return home / FOLDER / f"{topic}.jsonl"


def _recorded(lines: Sequence[str]) -> set[tuple[int, int]]:
    seen: set[tuple[int, int]] = set()
    for line in lines:
        try:
            record = json.loads(line)
            seen.add((int(record["partition"]), int(record["offset"])))
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a crash mid-write holds no complete letter
    return seen


def write_dead_letters(path: Path, letters: Sequence[DeadLetter]) -> int:
    """Append the letters the file does not hold yet; return how many were appended.

    A letter is identified by its partition and offset. Holds an exclusive ``flock`` on
    the file while reading and appending, so concurrent drains of one topic on this host
    neither interleave lines nor both write the same letter. Each line is the letter's
    fields plus ``dead_lettered_at`` (ISO-8601, UTC).
    """
    if not letters:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        existing = handle.read()
        seen = _recorded(existing.splitlines())
        fresh = []
        for letter in letters:
            if (letter.partition, letter.offset) not in seen:
                seen.add((letter.partition, letter.offset))
                fresh.append(letter)
        if fresh:
            now = dt.datetime.now(dt.UTC).isoformat()
            # A crash mid-write can leave a last line without its newline; start a new one
            # so the next letter is not glued to it.
            text = "\n" if existing and not existing.endswith("\n") else ""
            text += "".join(
                json.dumps({**letter.to_dict(), "dead_lettered_at": now}, ensure_ascii=False) + "\n"
                for letter in fresh
            )
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    return len(fresh)


def read_dead_letters(path: Path) -> list[dict[str, object]]:
    """Every complete dead-letter record in ``path`` (none when it does not exist)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
