"""Load YAML with line numbers and turn pydantic errors into one clear line per defect.

Used for every user-facing input: scenario YAML, bandit and experiment config files, HTTP bodies.
A message names the file, the line (where known), the field path in the user's notation
(``channels[2].cost_per_unit``), the bad value and what is expected. Unknown keys get a
"did you mean" suggestion (difflib), as PyMC-Marketing does.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from optimizer.errors import ScenarioError

M = TypeVar("M", bound=BaseModel)
LineMap = dict[tuple[Any, ...], int]


def format_path(loc: tuple[Any, ...]) -> str:
    """``("channels", 2, "cost_per_unit")`` -> ``channels[2].cost_per_unit``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _line_map(node: yaml.Node, path: tuple[Any, ...] = (), out: LineMap | None = None) -> LineMap:
    """Map every field path of a composed YAML document to its 1-based line."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, path + (key,), out)
            # keep the key's own line: errors about a key point at it
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out)
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (plain YAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key]})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Read a YAML file; return its data and a map from field path to line number.

    Raises
    ------
    ScenarioError
        The file is missing, unreadable, not UTF-8, empty, or not valid YAML (with line and column).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: file not found. Check the path (relative paths start at {Path.cwd()}).") from None
    except IsADirectoryError:
        raise ScenarioError(f"{p}: is a directory; expected a YAML file.") from None
    except PermissionError:
        raise ScenarioError(f"{p}: permission denied; the file cannot be read.") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{p}: is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    return parse_yaml_text(text, str(p))


def parse_yaml_text(text: str, source: str = "<string>") -> tuple[Any, LineMap]:
    """Parse YAML text; see :func:`load_yaml`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError(f"{source}{where}: YAML syntax error: {what}.") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: YAML syntax error: {exc}.") from None
    if node is None:
        raise ScenarioError(f"{source}: the file is empty; expected a YAML mapping.")
    split = _split_numbers(node)
    if split:
        problems = [
            f"{source}:{line}: {key}: {whole} inside {{...}} or [...] is read as {head} and {tail} (a comma "
            f"separates entries there); numbers take no thousands separator; write {whole.replace(',', '')}."
            for line, key, head, tail, whole in split
        ]
        n = len(problems)
        raise ScenarioError(f"{source}: {n} problem{'s' if n != 1 else ''} found", problems)
    return data, _line_map(node)


_GROUP = re.compile(r"^\d{3}(\.\d+)?$")


def _split_numbers(node: yaml.Node, out: list | None = None) -> list[tuple[int, str, str, str, str]]:
    """Numbers with a thousands separator inside ``{...}`` or ``[...]`` (``{amount: 500,000}``).

    YAML splits them at the comma: into ``amount: 500`` plus a key ``000`` with no value (a baffling
    "keys should be strings" error), or, in a list, into two numbers ``[1, 0]`` (silently wrong).
    Returns ``(line, key, first part, second part, whole number as written)``.
    """
    out = [] if out is None else out
    if isinstance(node, yaml.MappingNode):
        items = node.value
        i = 0
        while i < len(items):
            key_node, value_node = items[i]
            j = i + 1
            parts = [value_node.value] if isinstance(value_node, yaml.ScalarNode) else []
            while (node.flow_style and parts and re.match(r"^[+-]?\d+$", parts[-1]) and j < len(items)
                   and _is_group(items[j][0]) and isinstance(items[j][1], yaml.ScalarNode)
                   and items[j][1].value in ("", "null", "~")):
                parts.append(items[j][0].value)
                j += 1
            if len(parts) > 1:
                out.append((key_node.start_mark.line + 1, str(key_node.value), parts[0], parts[1], ",".join(parts)))
            else:
                _split_numbers(value_node, out)
            i = j
    elif isinstance(node, yaml.SequenceNode):
        items = node.value
        for k, item in enumerate(items):
            prev = items[k - 1] if k else None
            if (node.flow_style and prev is not None and isinstance(prev, yaml.ScalarNode) and _is_group(item)
                    and re.match(r"^[+-]?\d+$", prev.value) and item.start_mark.index == prev.end_mark.index + 1):
                out.append((item.start_mark.line + 1, "a list item", prev.value, item.value, f"{prev.value},{item.value}"))
            _split_numbers(item, out)
    return out


def _is_group(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None and bool(_GROUP.match(node.value))


#: Marks a :class:`FieldProblems` entry that has no single bad value to quote.
NO_VALUE = object()


class FieldProblems(ValueError):
    """Cross-field problems raised by a model validator, each pointing at its own entry.

    A model-level validator only knows its own location (e.g. ``budget``); raising this instead
    of a plain ``ValueError`` lets :func:`describe_validation_error` report every problem at the
    line of the offending entry (``channels[2].name``) with that entry's value, instead of at the
    parent's line with the whole parent object dumped.

    ``problems`` holds ``(loc, value, message)``: ``loc`` relative to the model that raises,
    ``value`` the bad value (or :data:`NO_VALUE`), ``message`` what is expected and how to fix it.
    """

    def __init__(self, problems: list[tuple[tuple[Any, ...], Any, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{format_path(loc)}: {msg}" for loc, _, msg in self.problems))


_BOOL_WORDS = "yes/no, true/false, on/off"


def _admits_bool(annotation: Any) -> bool:
    """True when a field's annotation accepts a bool as such (bool, Any, or a union with bool)."""
    import typing

    if annotation is bool or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _admits_bool(typing.get_args(annotation)[0])
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        return any(_admits_bool(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return any(isinstance(a, bool) for a in typing.get_args(annotation))
    return False


def refuse_bool(cls: type[BaseModel], data: Any) -> Any:
    """Model before-validator: a YAML boolean where a number is expected is an error.

    YAML reads ``yes``/``no``/``on``/``off``/``true``/``false`` as booleans and pydantic would
    coerce them to 1 and 0 (``max_spend: yes`` became a cap of 1). Use it in a shared base model::

        _no_bool = model_validator(mode="before")(classmethod(refuse_bool))

    Each offending key is reported at its own line (:class:`FieldProblems`).
    """
    if not isinstance(data, dict):
        return data
    problems = []
    for name, field in cls.model_fields.items():
        keys = [name] + [a for a in _aliases(field) if a != name]
        for key in keys:
            value = data.get(key)
            if isinstance(value, bool) and not _admits_bool(field.annotation):
                if "str" in repr(field.annotation):  # e.g. a segment named `no`
                    text = f"a YAML boolean ({_BOOL_WORDS}) where text is expected; put the text in quotes"
                else:
                    text = f"a YAML boolean ({_BOOL_WORDS}) where a number is expected; write the number itself"
                problems.append(((key,), value, text))
    if problems:
        raise FieldProblems(problems)
    return data


def _aliases(field: Any) -> list[str]:
    from pydantic import AliasChoices

    out = []
    if isinstance(field.alias, str):
        out.append(field.alias)
    va = field.validation_alias
    if isinstance(va, str):
        out.append(va)
    elif isinstance(va, AliasChoices):
        out.extend(c for c in va.choices if isinstance(c, str))
    return out


def bool_coercions(instance: Any, raw: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Field paths where a YAML boolean in ``raw`` became a number in the validated ``instance``.

    Walks the validated model alongside the raw data, so it works for any model (every section)
    without knowing its fields: a bool that stayed a bool is fine, one that became 1 or 0 is not.
    """
    if isinstance(raw, bool):
        return [] if isinstance(instance, bool) or not isinstance(instance, (int, float)) else [loc]
    out: list[tuple[Any, ...]] = []
    if isinstance(instance, BaseModel) and isinstance(raw, dict):
        for name, field in type(instance).model_fields.items():
            for key in [name] + _aliases(field):
                if key in raw:
                    out.extend(bool_coercions(getattr(instance, name), raw[key], loc + (key,)))
                    break
    elif isinstance(instance, (list, tuple)) and isinstance(raw, (list, tuple)) and len(instance) == len(raw):
        for i, (a, b) in enumerate(zip(instance, raw)):
            out.extend(bool_coercions(a, b, loc + (i,)))
    elif isinstance(instance, dict) and isinstance(raw, dict):
        for k, v in raw.items():
            if k in instance:
                out.extend(bool_coercions(instance[k], v, loc + (k,)))
    return out


_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}([,' ]\d{3})+(\.\d+)?\s*$")


def _number_hint(kind: str, value: Any) -> str | None:
    """A better message for a number written with a thousands separator (``500,000``)."""
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type") and isinstance(value, str):
        if _THOUSANDS.match(value):
            digits = re.sub(r"[,' ]", "", value.strip())
            return f"numbers take no thousands separator; write {digits} (or {_underscored(digits)})"
    return None


def _underscored(digits: str) -> str:
    whole, dot, frac = digits.partition(".")
    sign = whole[0] if whole[0] in "+-" else ""
    whole = whole.lstrip("+-")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + "_".join(groups) + dot + frac


def _line_of(line_map: LineMap | None, loc: tuple[Any, ...]) -> int | None:
    if not line_map:
        return None
    probe = loc
    while probe and probe not in line_map:
        probe = probe[:-1]
    return line_map.get(probe)


def _shorten(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (and aliases) valid at the parent of ``loc``, best effort for suggestions."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _first_model(annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return list(fields)


def _first_model(annotation: Any) -> type[BaseModel] | None:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def describe_validation_error(
    exc: ValidationError,
    source: str,
    line_map: LineMap | None = None,
    model: type[BaseModel] | None = None,
) -> list[str]:
    """One line per pydantic error: ``file:line: path is VALUE; expected ...``."""
    lines = []
    for err in exc.errors(include_url=False):
        # pydantic puts the union member tag in loc (e.g. "hill"); drop non-field parts
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        loc = _drop_tags(loc, line_map)
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblems):
            for sub, value, text in cause.problems:
                lines.append(_problem_line(source, line_map, loc + tuple(sub), value, text))
            continue
        kind = err["type"]
        msg = err["msg"]
        ctx = err.get("ctx") or {}
        if kind == "union_tag_invalid":
            # point at the tag's own line, quote only the tag
            loc = loc + (str(ctx.get("discriminator", "kind")).strip("'"),)
            err = {**err, "input": ctx.get("tag")}
            msg = f"expected one of: {ctx.get('expected_tags')}"
        line = _line_of(line_map, loc)
        where = f"{source}:{line}" if line else source
        path = format_path(loc)
        hint = _number_hint(kind, err.get("input"))
        if hint is not None:
            lines.append(f"{where}: {path} is {_shorten(err.get('input'))}; {hint}.")
        elif isinstance(err.get("input"), (dict, list)) and kind not in ("missing", "extra_forbidden"):
            # a whole mapping or list: say what is wrong with it without dumping it
            msg = msg[0].lower() + msg[1:] if msg else msg
            lines.append(f"{where}: {path}: {msg.removeprefix('value error, ')}.")
        elif kind == "extra_forbidden":
            name = str(loc[-1]) if loc else "?"
            allowed = _allowed_keys(model, loc) if model is not None else []
            hint = difflib.get_close_matches(name, allowed, n=1)
            text = f"{where}: unknown key {path!s}"
            if hint:
                text += f"; did you mean {hint[0]!r}?"
            elif allowed:
                text += f"; allowed keys here: {', '.join(sorted(allowed))}"
            lines.append(text)
        elif kind == "missing":
            lines.append(f"{where}: {path} is missing; it is required.")
        else:
            value = err.get("input")
            if isinstance(value, float) and not math.isfinite(value):
                msg = "numbers must be finite (no NaN or infinity)" if kind != "finite_number" else msg
            msg = msg[0].lower() + msg[1:] if msg else msg
            msg = msg.removeprefix("value error, ")
            lines.append(f"{where}: {path} is {_shorten(value)}; {msg}{'' if msg.endswith(('.', '?')) else '.'}")
    return lines


def _drop_tags(loc: tuple[Any, ...], line_map: LineMap | None) -> tuple[Any, ...]:
    """Drop discriminated-union tags from ``loc`` (``response.hill.shape`` -> ``response.shape``).

    A part is a tag when it is not a key in the YAML but its parent is a mapping with a ``kind``.
    """
    if not line_map:
        return loc
    out: tuple[Any, ...] = ()
    dropped = False
    for part in loc:
        if (not dropped and isinstance(part, str) and out in line_map and out + (part,) not in line_map
                and out + ("kind",) in line_map):
            dropped = True  # the next part is a field of the tagged model, even if missing from the YAML
            continue
        dropped = False
        out = out + (part,)
    return out


def _problem_line(source: str, line_map: LineMap | None, loc: tuple[Any, ...], value: Any, text: str) -> str:
    loc = _drop_tags(loc, line_map)
    line = _line_of(line_map, loc)
    where = f"{source}:{line}" if line else source
    end = "" if text.endswith((".", "?", "!")) else "."
    if value is NO_VALUE:
        return f"{where}: {format_path(loc)}: {text}{end}"
    shown = f"{value:g}" if isinstance(value, float) else _shorten(value)
    return f"{where}: {format_path(loc)} is {shown}; {text}{end}"


def parse_model(
    model: type[M],
    data: Any,
    source: str,
    line_map: LineMap | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    """Validate ``data`` against ``model``; raise :class:`ScenarioError` listing every defect."""
    try:
        result = model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = describe_validation_error(exc, source, line_map, model)
        n = len(problems)
        raise ScenarioError(f"{source}: {n} problem{'s' if n != 1 else ''} found", problems) from None
    # models without the refuse_bool validator (other sections) still must not read yes as 1
    coerced = bool_coercions(result, data)
    if coerced:
        problems = [
            _problem_line(source, line_map, loc, _raw_at(data, loc),
                          f"a YAML boolean ({_BOOL_WORDS}) where a number is expected; write the number itself")
            for loc in coerced
        ]
        n = len(problems)
        raise ScenarioError(f"{source}: {n} problem{'s' if n != 1 else ''} found", problems)
    return result


def _raw_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def load_model(model: type[M], path: str | Path, context: dict[str, Any] | None = None) -> M:
    """Load a YAML file and validate it against ``model`` (both steps with clear errors)."""
    data, line_map = load_yaml(path)
    return parse_model(model, data, str(path), line_map, context)
