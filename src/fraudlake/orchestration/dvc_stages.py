"""The DVC pipeline as plain data: stages from ``dvc.yaml`` and their graph.

Nothing here imports Airflow; the DAG in ``dags/fraud_batch_pipeline.py`` is a thin adapter
over these functions, so the same logic is testable without a scheduler.

Graph contract (:func:`upstream`): stage B depends on stage A exactly when DVC says so, i.e.
when a dependency path of B equals an output path of A, lies inside it, or contains it (all
outputs count: ``outs``, ``metrics`` and ``plots``). Paths are compared component-wise after
normalisation against the stage's ``wdir``: ``data/raw2`` is not inside ``data/raw``.
"""

from __future__ import annotations

import logging
import posixpath
import re
import shlex
import string
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Stage",
    "leaves",
    "load_stages",
    "push_command",
    "repro_command",
    "roots",
    "upstream",
]

log = logging.getLogger(__name__)

# DVC refuses stage names with punctuation other than "_" and "-" (dvc.stage.utils).
_INVALID_NAME_CHARS = frozenset(string.punctuation) - {"_", "-"}
_OUTPUT_KINDS = ("outs", "metrics", "plots")
_UNSUPPORTED_KEYS = ("foreach", "matrix", "do")
_KEY_SEGMENT = re.compile(r"^[^\s.]+$")


@dataclass(frozen=True)
class Stage:
    """One ``dvc.yaml`` stage.

    ``deps`` and ``outs`` are the paths exactly as written in ``dvc.yaml`` (relative to
    ``wdir``, itself relative to the folder holding ``dvc.yaml``); ``outs`` holds the
    ``outs``, ``metrics`` and ``plots`` entries, in that order. A list-valued ``cmd`` is
    joined with `` && `` (DVC runs the commands in turn and stops at the first failure).
    """

    name: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    wdir: str = "."


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys, as DVC's own YAML parser does."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# --------------------------------------------------------------------------- dvc.yaml


def load_stages(dvc_yaml: Path) -> list[Stage]:
    """Read the stages of ``dvc_yaml``, in file order.

    Raises :class:`FileNotFoundError` if the file does not exist and :class:`ValueError`
    naming the file and the problem when it is malformed: not YAML, duplicate keys, no
    non-empty ``stages`` mapping, a stage without ``cmd``, an invalid stage name, a
    ``foreach``/``matrix`` stage or ``${...}`` interpolation in a path (both unsupported:
    the graph would have to be resolved by DVC's templating first).
    """
    path = Path(dvc_yaml)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file; expected the project's dvc.yaml") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "stages" not in data:
        raise ValueError(f"{path}: no top-level `stages:` mapping; dvc.yaml lists its stages there")
    raw_stages = data["stages"]
    if not isinstance(raw_stages, dict) or not raw_stages:
        raise ValueError(
            f"{path}: `stages` must be a non-empty mapping of stage name to stage definition"
        )
    return [_parse_stage(path, name, spec) for name, spec in raw_stages.items()]


def _parse_stage(path: Path, name: object, spec: object) -> Stage:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{path}: stage name {name!r} is not a non-empty string")
    bad = sorted(_INVALID_NAME_CHARS & set(name))
    if bad:
        raise ValueError(
            f"{path}: stage name {name!r} contains {''.join(bad)!r}; DVC allows only letters, "
            "digits, '_' and '-'"
        )
    where = f"{path}: stage {name!r}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a mapping with at least `cmd`")
    unsupported = [key for key in _UNSUPPORTED_KEYS if key in spec]
    if unsupported:
        raise ValueError(
            f"{where} uses `{unsupported[0]}`, which is not supported here: write the "
            "expanded stages out explicitly"
        )
    cmd = spec.get("cmd")
    if isinstance(cmd, list) and cmd and all(isinstance(c, str) and c.strip() for c in cmd):
        cmd = " && ".join(cmd)
    if not isinstance(cmd, str) or not cmd.strip():
        raise ValueError(f"{where} has no `cmd` (a command string or a list of commands)")
    wdir = spec.get("wdir", ".")
    if not isinstance(wdir, str) or not wdir:
        raise ValueError(f"{where}: `wdir` must be a non-empty path string")
    _reject_interpolation(where, "wdir", wdir)
    deps = _paths(where, "deps", spec.get("deps"))
    outs = tuple(p for kind in _OUTPUT_KINDS for p in _paths(where, kind, spec.get(kind)))
    return Stage(name=name, cmd=cmd, deps=deps, outs=outs, wdir=wdir)


def _paths(where: str, kind: str, entries: object) -> tuple[str, ...]:
    """Paths of a ``deps``/``outs``/``metrics``/``plots`` list (strings or one-key mappings)."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ValueError(f"{where}: `{kind}` must be a list of paths")
    paths: list[str] = []
    for entry in entries:
        if isinstance(entry, dict):
            if len(entry) != 1:
                raise ValueError(
                    f"{where}: `{kind}` entry {entry!r} must map exactly one path to its options"
                )
            (entry,) = entry
        if not isinstance(entry, str) or not entry.strip():
            raise ValueError(f"{where}: `{kind}` entry {entry!r} is not a path")
        _reject_interpolation(where, kind, entry)
        paths.append(entry)
    return tuple(paths)


def _reject_interpolation(where: str, kind: str, value: str) -> None:
    if "${" in value:
        raise ValueError(
            f"{where}: `{kind}` value {value!r} uses ${{...}} interpolation, which is not "
            "supported here; write the resolved path"
        )


# --------------------------------------------------------------------------- graph


def _path_key(stage: Stage, path: str) -> tuple[str, ...]:
    """Components of ``path`` relative to the dvc.yaml folder; ``()`` is that folder itself."""
    if "://" in path:  # a remote URL never overlaps a workspace path
        return ("<url>", path)
    joined = posixpath.normpath(posixpath.join(stage.wdir, path))
    if joined == ".":
        return ()
    if joined.startswith("/"):
        return ("/", *[part for part in joined.split("/") if part])
    return tuple(joined.split("/"))


def _within(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    """True when ``inner`` equals ``outer`` or lies inside it (component-wise)."""
    if inner[:1] == ("<url>",) or outer[:1] == ("<url>",):
        return inner == outer
    return inner[: len(outer)] == outer


def upstream(stages: Sequence[Stage]) -> dict[str, set[str]]:
    """Map every stage name to the names of the stages it directly depends on.

    B depends on A when a dep of B equals an output of A, lies inside one, or contains one:
    the edges ``dvc dag`` draws. Raises :class:`ValueError`, as DVC refuses to build its
    graph, when stage names repeat, two outputs are the same path or nest, or the
    dependencies form a cycle (including a stage depending on its own output).
    """
    seen: set[str] = set()
    for stage in stages:
        if stage.name in seen:
            raise ValueError(f"stage {stage.name!r} is defined twice")
        seen.add(stage.name)

    outputs: list[tuple[tuple[str, ...], str, Stage]] = []
    for stage in stages:
        for out in stage.outs:
            key = _path_key(stage, out)
            for other_key, other_out, other in outputs:
                if _within(key, other_key) or _within(other_key, key):
                    relation = "is the same path as" if key == other_key else "overlaps"
                    raise ValueError(
                        f"output {out!r} of stage {stage.name!r} {relation} output "
                        f"{other_out!r} of stage {other.name!r}; DVC requires outputs to be "
                        "distinct, non-nested paths"
                    )
            outputs.append((key, out, stage))

    graph: dict[str, set[str]] = {stage.name: set() for stage in stages}
    for stage in stages:
        for dep in stage.deps:
            dep_key = _path_key(stage, dep)
            for out_key, _, producer in outputs:
                if _within(dep_key, out_key) or _within(out_key, dep_key):
                    graph[stage.name].add(producer.name)
    _check_acyclic(graph)
    return graph


def _check_acyclic(graph: Mapping[str, set[str]]) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = [start]
        iters = [iter(sorted(graph[start]))]
        state[start] = 1
        while iters:
            node = next(iters[-1], None)
            if node is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(node) == 1:
                cycle = [*path[path.index(node) :], node]
                raise ValueError(
                    "the stages form a dependency cycle: "
                    + " -> ".join(reversed(cycle))
                    + " (each stage's outputs feed the next one's deps)"
                )
            elif not state.get(node):
                state[node] = 1
                path.append(node)
                iters.append(iter(sorted(graph[node])))


def roots(graph: Mapping[str, set[str]]) -> set[str]:
    """Stages of an :func:`upstream` graph that depend on no other stage."""
    return {name for name, deps in graph.items() if not deps}


def leaves(graph: Mapping[str, set[str]]) -> set[str]:
    """Stages of an :func:`upstream` graph that no other stage depends on."""
    needed = {dep for deps in graph.values() for dep in deps}
    return set(graph) - needed


# --------------------------------------------------------------------------- commands


def repro_command(stage: str) -> str:
    """The shell command that reproduces just ``stage`` (if changed), run from the project root.

    ``--single-item`` skips DVC's recursive check of upstream stages: the orchestrator runs
    those as their own tasks first.
    """
    return f"dvc repro --single-item {shlex.quote(stage)}"


def push_command() -> str:
    """A bash script that pushes the DVC cache to the default remote, if one is configured.

    With no default remote it prints why nothing was pushed and how to configure one, and
    exits 0; any other failure of ``dvc remote default`` or ``dvc push`` exits non-zero.
    """
    return (
        "set -euo pipefail\n"
        'if remote="$(dvc remote default)"; then\n'
        "  echo \"Pushing DVC-tracked outputs to the default remote '${remote}'\"\n"
        "  dvc push\n"
        'elif [ "${remote}" = "No default remote set" ]; then\n'
        '  echo "No DVC default remote is configured, so nothing was pushed: the outputs stay'
        ' in the local DVC cache only."\n'
        "  echo 'To push after every run: dvc remote add --default <name> <url>"
        " (or: dvc remote default <name>, for a remote already listed by dvc remote list)'\n"
        "else\n"
        '  echo "dvc remote default failed: ${remote}" >&2\n'
        "  exit 1\n"
        "fi\n"
    )
