"""Load YAML with line numbers and turn pydantic errors into one clear line per defect.

Used for every user-facing input: scenario YAML, bandit and experiment config files, HTTP bodies.
A message names the file, the line (where known), the field path in the user's notation
(``channels[2].cost_per_unit``), the bad value and what is expected. Unknown keys get a
"did you mean" suggestion (difflib), as PyMC-Marketing does.
"""

from __future__ import annotations

import difflib
import math
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
    return data, _line_map(node)


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
        line = None
        if line_map:
            probe = loc
            while probe and probe not in line_map:
                probe = probe[:-1]
            line = line_map.get(probe)
        where = f"{source}:{line}" if line else source
        path = format_path(loc)
        kind = err["type"]
        msg = err["msg"]
        if kind == "extra_forbidden":
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
            lines.append(f"{where}: {path} is {_shorten(value)}; {msg}.")
    return lines


def parse_model(
    model: type[M],
    data: Any,
    source: str,
    line_map: LineMap | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    """Validate ``data`` against ``model``; raise :class:`ScenarioError` listing every defect."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = describe_validation_error(exc, source, line_map, model)
        n = len(problems)
        raise ScenarioError(f"{source}: {n} problem{'s' if n != 1 else ''} found", problems) from None


def load_model(model: type[M], path: str | Path, context: dict[str, Any] | None = None) -> M:
    """Load a YAML file and validate it against ``model`` (both steps with clear errors)."""
    data, line_map = load_yaml(path)
    return parse_model(model, data, str(path), line_map, context)
