"""What every job config shares: the JSON round trip, form values coerced to their fields' types (coerce_value),
limits, and the fields' docstrings for help texts. The job kinds themselves are in jobs/kinds.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import ClassVar


class ConfigError(ValueError):
    """A config that cannot run; the message names the field and the allowed values."""


def coerce_value(name: str, hint, value, words: dict[str, object]):
    """One value as the type `hint` of field `name` (see JobConfig.coerce)."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        hint = members[0] if len(members) == 1 else object
    kind = typing.get_origin(hint) or hint
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    if value is None or (optional and isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ConfigError(f"{name} needs a value")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        choices = ", ".join(["true", "false", *words])
        raise ConfigError(f"{name} must be one of {choices}, not {value!r}")
    if kind in (int, float):
        number = finite_number(name, value)
        if kind is int:
            if not float(number).is_integer():
                raise ConfigError(f"{name} must be a whole number, not {value!r}")
            return int(number)
        return number
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a text, not {value!r}")
    if kind is list and not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a list, not {value!r}")
    if kind is dict and not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object, not {value!r}")
    return list(value) if kind is list else value


def finite_number(name: str, value) -> int | float:
    """A finite int or float from a number or its text; bools are refused (True is not 1 epoch)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {text!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {value!r}")
    return value


def read_config_values(path: str | Path) -> dict:
    """A config file's JSON object; ConfigError when it cannot be read or holds something else."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read config {path}: {e}") from e
    if not isinstance(values, dict):
        raise ConfigError(f"config {path} must hold a JSON object")
    return values


class JobConfig:
    """JSON round-trip shared by every job kind; MODULE is what `python -m` runs with the config file."""

    MODULE: ClassVar[str]
    KIND: ClassVar[str]
    """The job kind stored in config.json ("sft", "eval", "memory_bench"); runs.read_config picks the class by it."""
    LIMITS: ClassVar[dict[str, float]] = {}
    """Upper bounds of numeric fields: generous for a CPU or one GPU, they stop a typo (or a visitor) from
    queueing a job that would run for days or exhaust memory."""

    def validate(self):
        return self

    def check_limits(self) -> None:
        for name, most in self.LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, (int, float)) and value > most:
                raise ConfigError(f"{name} must be at most {most:g}, not {value!r}")

    def require_text(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} must be a non-empty text, not {value!r}")

    def to_json(self) -> str:
        return json.dumps({"kind": self.KIND, **dataclasses.asdict(self)}, indent=2)

    WORDS: ClassVar[dict[str, dict[str, object]]] = {}
    """Words a form may send for a field instead of its value, by field (lower case), e.g. a Method radio."""

    @classmethod
    def from_dict(cls, values: dict):
        """The job from values by field name: a JSON config, or a form's widgets (text, float sliders).

        Each value is coerced to its field's type first (see `coerce`); a field left out takes its default.
        """
        values = dict(values)
        kind = values.pop("kind", cls.KIND)
        if kind != cls.KIND:
            raise ConfigError(f"this config is a {kind!r} job, not {cls.KIND!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        return cls(**cls.coerce(values)).validate()

    @classmethod
    def coerce(cls, values: dict) -> dict:
        """Values as their fields' types: "0.5" and 0.5 for a float, "200", 200.0 and 200 for an int, "" or blank
        text for an optional field is None. A value that is none of these raises a ConfigError naming the field."""
        hints = typing.get_type_hints(cls)
        return {name: coerce_value(name, hints[name], value, cls.WORDS.get(name, {})) for name, value in values.items()}

    @classmethod
    def load(cls, path: str | Path):
        return cls.from_dict(read_config_values(path))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json())
        return path


def field_docs(cls: type) -> dict[str, str]:
    """Each field's one-line docstring, read from the source, for UI help texts and --help."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(cls))
    docs, body = {}, tree.body[0].body
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs
