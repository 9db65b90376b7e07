"""The DVC pipeline as plain data: stages from ``dvc.yaml``, their graph, and params overrides.

Nothing here imports Airflow; the DAG in ``dags/fraud_batch_pipeline.py`` is a thin adapter
over these functions, so the same logic is testable without a scheduler.

Graph contract (:func:`upstream`): stage B depends on stage A exactly when DVC says so, i.e.
when a dependency path of B equals an output path of A, lies inside it, or contains it (all
outputs count: ``outs``, ``metrics`` and ``plots``). Paths are compared component-wise after
normalisation against the stage's ``wdir``: ``data/raw2`` is not inside ``data/raw``.
"""

from __future__ import annotations

import copy
import difflib
import io
import logging
import math
import os
import posixpath
import re
import shlex
import string
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from fraudlake.params import Params, ParamsError

__all__ = [
    "Stage",
    "apply_param_overrides",
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


# --------------------------------------------------------------------------- params


def apply_param_overrides(
    params_file: Path, overrides: Mapping[str, object]
) -> dict[str, tuple[object, object]]:
    """Set dotted keys (``{"simulate.days": 30}``) in ``params_file`` and return the changes.

    Contract:

    * The whole result is validated with :class:`fraudlake.params.Params` *before* anything
      is written; an unknown key, a malformed key or an invalid value raises
      :class:`fraudlake.params.ParamsError` (a :class:`ValueError`) naming the key and the
      fix, and leaves the file byte-identical.
    * Values are written in their validated, normalised form (``30`` for an int field,
      ``120.0`` for a float field, ``"2024-02-01"`` for a date). A key may also set a whole
      section to a mapping. Missing intermediate sections are created.
    * Returns ``{key: (old, new)}`` for the keys whose value actually changed (``old`` is
      ``None`` when the key was absent). When nothing changes, including when
      ``overrides`` is empty, the file is not rewritten.
    * The file is replaced atomically (temporary file in the same folder, then
      :func:`os.replace`), keeping its permissions. Comments, key order, quoting and
      flow-style mappings survive when ``ruamel.yaml`` is importable (it is: DVC depends on
      it); otherwise the file is rewritten with PyYAML and its comments are lost.
    """
    if not overrides:
        return {}
    params_file = Path(params_file)
    keys = _check_keys(overrides)
    text = params_file.read_text(encoding="utf-8")
    try:
        current = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{params_file} is not valid YAML, fix it first: {exc}") from exc
    if not isinstance(current, dict):
        raise ParamsError(f"{params_file}: expected a mapping of sections at the top level")

    updated = copy.deepcopy(current)
    for key in keys:
        _set_dotted(updated, key, overrides[key], what=params_file)
    validated = _validate(params_file, updated, keys)

    normalised = validated.model_dump(mode="json")
    changes: dict[str, tuple[object, object]] = {}
    for key in keys:
        found, old = _get_dotted(current, key)
        _, new = _get_dotted(normalised, key)
        if not found or not _same(old, new):
            changes[key] = (old if found else None, new)
    if not changes:
        return {}

    final = copy.deepcopy(current)
    for key, (_, new) in changes.items():
        _set_dotted(final, key, new, what=params_file)
    new_text = _render_roundtrip(text, changes)
    if new_text is None or yaml.safe_load(new_text) != final:
        log.warning("%s: rewriting with PyYAML; its comments are not kept", params_file)
        new_text = yaml.safe_dump(final, sort_keys=False, allow_unicode=True)
    written = yaml.safe_load(new_text)
    if written != final or Params.model_validate(written) != validated:  # pragma: no cover
        raise RuntimeError(f"{params_file}: rendering the overrides changed other values")
    _atomic_write(params_file, new_text)
    return changes


def _check_keys(overrides: Mapping[str, object]) -> list[str]:
    keys = list(overrides)
    for key in keys:
        if not isinstance(key, str) or not all(_KEY_SEGMENT.match(s) for s in key.split(".")):
            raise ParamsError(
                f"override key {key!r} is not a dotted params.yaml key like 'simulate.days'"
            )
    for key in keys:
        for other in keys:
            if other != key and other.startswith(key + "."):
                raise ParamsError(
                    f"override keys {key!r} and {other!r} overlap; set either the section or "
                    "the key inside it"
                )
    return keys


def _get_dotted(data: object, key: str) -> tuple[bool, object]:
    node = data
    for segment in key.split("."):
        if not isinstance(node, Mapping) or segment not in node:
            return False, None
        node = node[segment]
    return True, node


def _set_dotted(data: dict[str, Any], key: str, value: object, *, what: Path) -> None:
    *parents, leaf = key.split(".")
    node: Any = data
    for depth, segment in enumerate(parents):
        if segment not in node:
            node[segment] = {}
        child = node[segment]
        if not isinstance(child, dict):
            section = ".".join(parents[: depth + 1])
            raise ParamsError(
                f"cannot set {key!r}: {section!r} is a value ({child!r}), not a section; "
                f"set {section!r} itself instead. {what} left unchanged"
            )
        node = child
    node[leaf] = copy.deepcopy(value)


def _same(old: object, new: object) -> bool:
    """Equal values of the same type (``1`` vs ``1.0`` or ``True`` counts as a change)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    return type(old) is type(new) and old == new


def _validate(params_file: Path, data: dict[str, Any], keys: Sequence[str]) -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_explain(err) for err in exc.errors())
    raise ParamsError(
        f"params override {', '.join(keys)} rejected, {params_file} left unchanged: {problems}"
    )


def _explain(err: Mapping[str, Any]) -> str:
    loc = [str(part) for part in err["loc"]]
    dotted = ".".join(loc)
    if err["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {'.'.join([*loc[:-1], close[0]])!r}? " if close else ""
        where = ".".join(loc[:-1]) or "the top level"
        return f"unknown key {dotted!r}: {hint}keys under {where}: {', '.join(known)}"
    message = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    got = "" if isinstance(value, Mapping) else f" (got {value!r})"
    return f"{dotted or 'params'}: {message}{got}; fix the value"


def _known_keys(section: Sequence[str]) -> list[str]:
    """Field names of the params model at ``section`` (empty if it is not a model)."""
    model: type[BaseModel] = Params
    for segment in section:
        field = model.model_fields.get(segment)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _render_roundtrip(text: str, changes: Mapping[str, tuple[object, object]]) -> str | None:
    """``text`` with ``changes`` applied, comments and layout kept; None without ruamel.yaml."""
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.representer import RoundTripRepresenter
    except ImportError:  # pragma: no cover - DVC depends on ruamel.yaml
        return None

    pyyaml_resolver = yaml.resolver.Resolver()

    class _Representer(RoundTripRepresenter):  # a subclass: leave DVC's ruamel setup alone
        def _null(self, data: None) -> Any:
            return self.represent_scalar("tag:yaml.org,2002:null", "null")

        def _float(self, data: float) -> Any:
            # YAML 1.1 (PyYAML, used by fraudlake.params) needs a '.' in exponent floats.
            if math.isnan(data):
                value = ".nan"
            elif math.isinf(data):
                value = ".inf" if data > 0 else "-.inf"
            else:
                value = repr(data).lower()
                if "." not in value and "e" in value:
                    value = value.replace("e", ".0e", 1)
            return self.represent_scalar("tag:yaml.org,2002:float", value)

        def _str(self, data: str) -> Any:
            # Quote strings PyYAML would read as something else ("yes", "1e5", "~").
            tag = pyyaml_resolver.resolve(yaml.ScalarNode, data, (True, False))
            if tag != "tag:yaml.org,2002:str":
                return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
            return self.represent_str(data)

    _Representer.add_representer(type(None), _Representer._null)
    _Representer.add_representer(float, _Representer._float)
    _Representer.add_representer(str, _Representer._str)

    rt = YAML(typ="rt")
    rt.Representer = _Representer
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    doc = rt.load(text)
    if doc is None:
        doc = CommentedMap()
    for key, (_, new) in changes.items():
        *parents, leaf = key.split(".")
        node = doc
        for segment in parents:
            if segment not in node:
                node[segment] = CommentedMap()
            node = node[segment]
        _assign(node, leaf, new)
    buffer = io.StringIO()
    rt.dump(doc, buffer)
    return buffer.getvalue()


def _assign(node: Any, key: str, new: object) -> None:
    """Set ``node[key] = new`` in a ruamel.yaml document, disturbing its layout the least.

    A mapping assigned over a mapping is merged key by key (comments and flow style stay);
    equal scalars are left as written; a string keeps the quotes of the one it replaces.
    """
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    present = key in node
    old = node[key] if present else None
    if isinstance(new, dict) and isinstance(old, CommentedMap):
        for stale in [k for k in old if k not in new]:
            del old[stale]
        for sub_key, sub_new in new.items():
            _assign(old, sub_key, sub_new)
        return
    if present and _same_scalar(old, new):
        return
    if isinstance(new, str) and isinstance(
        old, DoubleQuotedScalarString | SingleQuotedScalarString
    ):
        new = type(old)(new)  # keep the quoting style the file used
    node[key] = new
    if not present and not isinstance(new, dict | list):
        _move_blank_lines(node, key)


def _same_scalar(old: object, new: object) -> bool:
    """Equal scalars of the same kind; ruamel.yaml's scalar subclasses count as their base."""
    kinds = (bool, int, float, str, type(None))
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return False
    old_kind = next((k for k in kinds if isinstance(old, k)), None)
    new_kind = next((k for k in kinds if isinstance(new, k)), None)
    return old_kind is not None and old_kind is new_kind and old == new


def _move_blank_lines(node: Any, new_key: str) -> None:
    """Keep blank lines that ended a section after ``new_key``, just appended to it.

    ruamel.yaml attaches the blank lines closing a section to its last (deepest) entry, so
    an appended key would otherwise land after them, visually inside the next section.
    """
    from ruamel.yaml.comments import CommentedMap

    keys = [key for key in node if key != new_key]
    holder, last = node, keys[-1] if keys else None
    while last is not None and last not in holder.ca.items:
        value = holder[last]
        if not (isinstance(value, CommentedMap) and len(value)):
            return
        holder, last = value, list(value)[-1]
    if last is None:
        return
    entry = holder.ca.items[last]
    token = entry[2] if len(entry) > 2 else None
    if token is None:
        return
    head, _, tail = token.value.partition("\n")
    if not tail or tail.strip():
        return
    moved = copy.copy(token)
    token.value = head + "\n"
    moved.value = "\n" + tail
    node.ca.items[new_key] = [None, None, moved, None]


def _atomic_write(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
