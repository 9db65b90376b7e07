"""Trigger-form overrides for ``params.yaml``: dotted keys validated as a whole, then
written atomically with the file's comments kept (what ``dvc exp run -S`` does to the
workspace). Used by the ``apply_params`` task of ``fraud_batch_pipeline``.
"""

from __future__ import annotations

import copy
import difflib
import io
import logging
import math
import os
import re
import string
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from fraudlake.params import Params, ParamsError

__all__ = ["apply_param_overrides"]

log = logging.getLogger(__name__)

# DVC refuses stage names with punctuation other than "_" and "-" (dvc.stage.utils).
_INVALID_NAME_CHARS = frozenset(string.punctuation) - {"_", "-"}
_OUTPUT_KINDS = ("outs", "metrics", "plots")
_UNSUPPORTED_KEYS = ("foreach", "matrix", "do")
_KEY_SEGMENT = re.compile(r"^[^\s.]+$")


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
