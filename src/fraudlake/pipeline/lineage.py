"""What a model was built from: git commit, ``dvc.lock`` hashes, Iceberg snapshots."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml


def git_commit(root: Path) -> str:
    """HEAD's commit, suffixed ``-dirty`` when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def dvc_lock_hashes(root: Path) -> dict[str, str]:
    """``stage:path`` → md5 of every dependency and output recorded in ``dvc.lock``."""
    lock = root / "dvc.lock"
    if not lock.exists():
        return {}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    hashes: dict[str, str] = {}
    for stage, entry in stages.items():
        for section in ("deps", "outs"):
            for item in entry.get(section, []) or []:
                digest = item.get("md5") or item.get("hash")
                if digest:
                    hashes[f"{stage}:{item['path']}"] = str(digest)
    return hashes


def lineage_tags(
    root: Path, snapshot_ids: dict[str, int | None], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Flat string map of everything a run read, for MLflow tags and audit records."""
    tags = {"git_commit": git_commit(root)}
    tags.update({f"dvc.{k}": v for k, v in dvc_lock_hashes(root).items()})
    tags.update({f"snapshot.{k}": str(v) for k, v in snapshot_ids.items()})
    tags.update(extra or {})
    return tags
