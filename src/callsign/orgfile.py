"""Organization files in and out (SPEC 6): text, YAML or JSON read strictly and bounded,
and a document written back as YAML.

What a decoded document must hold is the domain's (``callsign.domain.document``); this
module only turns bytes into plain mappings and lists, naming the line or path of what
it cannot read.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

import yaml

from callsign.domain import limits
from callsign.domain.document import OrgDocument
from callsign.domain.errors import ConfigError, InvalidInput, MalformedJSON


def text_of(raw: str | bytes, *, source: str) -> str:
    """``raw`` as text: bytes must be UTF-8 (a byte-order mark is allowed)."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source} is not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
                           f"{exc.start}); save it as UTF-8") from exc


def load_document(raw: str | bytes, *, source: str = "file") -> Any:
    """A document in YAML or JSON (JSON is read by the faster JSON reader), bounded."""
    if len(raw) > limits.MAX_DOCUMENT_BYTES:
        raise ConfigError([("", f"{source} is larger than {limits.MAX_DOCUMENT_BYTES:,} bytes")])
    try:
        text = text_of(raw, source=source)
    except InvalidInput as exc:
        raise ConfigError([("", exc.message)]) from exc
    if text.lstrip().startswith("{"):
        try:
            return load_json(text, source=source)
        except InvalidInput as exc:
            raise ConfigError([(exc.field or "", exc.message)]) from exc
    return load_yaml(text, source=source)


def load_yaml(raw: str | bytes, *, source: str = "file") -> Any:
    """YAML without aliases, duplicate keys or deep nesting; problems name their line."""
    try:
        text = text_of(raw, source=source)
    except InvalidInput as exc:
        raise ConfigError([("", exc.message)]) from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([("", f"{source} is not valid YAML{where}: {problem}")]) from exc
    except ValueError as exc:  # an integer of thousands of digits
        raise ConfigError([("", f"{source} holds a number with too many digits")]) from exc


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when present) that checks the node tree first."""

    def construct_document(self, node: yaml.Node) -> Any:
        problem = _tree_problem(node)
        if problem:
            raise ConfigError([problem])
        return super().construct_document(node)


def _tree_problem(root: yaml.Node) -> tuple[str, str] | None:
    """The first alias, duplicate key or too-deep collection in a YAML node tree."""
    seen: set[int] = set()
    todo: list[tuple[yaml.Node, int, str]] = [(root, 0, "")]
    while todo:
        node, depth, path = todo.pop()
        line = f"(line {node.start_mark.line + 1})"
        if id(node) in seen:
            return path, f"refers to an anchor (YAML aliases such as *name are not allowed) {line}"
        seen.add(id(node))
        if depth > limits.MAX_DEPTH:
            return path, f"is nested deeper than {limits.MAX_DEPTH} levels {line}"
        children: list[tuple[yaml.Node, int, str]] = []
        if isinstance(node, yaml.SequenceNode):
            children = [(child, depth + 1, f"{path}[{i}]") for i, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                where = f"{path}.{name}" if path else name
                if isinstance(key, yaml.ScalarNode):
                    if (key.tag, key.value) in keys:
                        return where, f"is given twice (line {key.start_mark.line + 1})"
                    keys.add((key.tag, key.value))
                children += [(key, depth + 1, where), (value, depth + 1, where)]
        todo.extend(reversed(children))  # visited in the document's order
    return None


class _Pairs(list[tuple[str, Any]]):
    """A JSON object's members in order, before duplicates are checked."""


def load_json(raw: str | bytes, *, source: str = "the request body") -> Any:
    """Strict JSON: UTF-8, bounded nesting, no key twice in an object, no NUL in text.

    Problems are InvalidInput naming the exact path (``users[0].name``).
    """
    try:
        text = text_of(raw, source=source)
    except InvalidInput as exc:
        raise MalformedJSON(exc.message) from exc
    depth = _json_depth(text)
    if depth > limits.MAX_DEPTH:
        raise MalformedJSON(f"{source} nests arrays and objects {depth} deep; at most "
                           f"{limits.MAX_DEPTH} levels are allowed")
    try:
        data = json.loads(text, object_pairs_hook=_Pairs, parse_float=_finite,
                          parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"{source} is not valid JSON: {exc.msg.lower()} at line "
                           f"{exc.lineno}, column {exc.colno}") from exc
    except RecursionError as exc:  # pragma: no cover (the depth is checked above)
        raise MalformedJSON(f"{source} nests arrays and objects too deeply") from exc
    except ValueError as exc:  # NaN, 1e999, an integer of thousands of digits
        raise MalformedJSON(f"{source} holds a number out of range") from exc
    return _checked_json(data)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is out of range")
    return number


def _not_json(text: str) -> float:
    raise ValueError(f"{text} is not a number JSON allows")


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


def _json_depth(text: str) -> int:
    """How deeply arrays and objects nest (strings skipped), without parsing."""
    brackets = re.sub(r"[^\[\]{}]", "", _JSON_STRING.sub("", text))
    return max(accumulate(map(_NESTING.__getitem__, brackets)), default=0)


def _checked_json(root: Any) -> Any:
    """Plain dicts and lists out of ``_Pairs``, refusing duplicate keys and NULs."""
    holder: list[Any] = [root]
    todo: list[tuple[Any, Any, str]] = [(holder, 0, "")]
    while todo:
        parent, index, path = todo.pop()
        value = parent[index]
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput("contains a NUL character", field=_clipped(path) or None)
        if isinstance(value, _Pairs):
            obj: dict[str, Any] = {}
            for key, item in value:
                where = f"{path}.{key}" if path else key
                if "\x00" in key:
                    raise InvalidInput("a key contains a NUL character",
                                       field=_clipped(path) or None)
                if key in obj:
                    raise InvalidInput("is given twice in one object", field=_clipped(where))
                obj[key] = item
                todo.append((obj, key, where))
            parent[index] = obj
        elif isinstance(value, list):
            todo.extend((value, i, f"{path}[{i}]") for i in range(len(value)))
    return holder[0]


def _clipped(path: str) -> str:
    """A path as an error names it: a key of a megabyte is not repeated whole."""
    return path if len(path) <= 200 else path[:197] + "..."


def dump_document(document: OrgDocument) -> str:
    """The document as YAML, leaving out what equals the defaults."""
    data = document.model_dump(mode="json", exclude_defaults=True)
    data = {"org": document.org, "principal_number": document.principal_number, **data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
