"""Config values as their fields' types: what JobConfig.coerce does to each value of a JSON config or a form.

ConfigError lives here (configs.py re-exports it) so that this module needs nothing from configs.py.
"""

from __future__ import annotations

import math
import types
import typing


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
