"""Turn plain TOML data into frozen dataclasses, checking every key and type.

An unknown key fails with the nearest valid key; a wrong type names the expected one.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from harness.errors import HarnessError, suggest

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (tuple, list):
        return f"list of {_type_name(get_args(tp)[0])}"
    if tp is type(None):
        return "nothing"
    return getattr(tp, "__name__", str(tp))


def convert(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against type `tp`; return it converted (lists become tuples)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise HarnessError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return convert(value, arg, where)
            except HarnessError:
                continue
        raise HarnessError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise HarnessError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        item = get_args(tp)[0]
        return tuple(convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise HarnessError(f"{where}: expected a table, got {value!r}")
        return from_dict(tp, value, where)  # type: ignore[arg-type]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise HarnessError(f"{where}: expected a finite number, got {value!r}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is type(None):
        if value is None:
            return None
    else:
        raise TypeError(f"unsupported config type {tp!r} at {where}")
    raise HarnessError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build dataclass `cls` from `data`; every key must be a field of `cls`."""
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            valid = ", ".join(fields) or "none"
            raise HarnessError(f"unknown key '{where}.{key}'{suggest(key, fields)}; valid keys: {valid}")
        kwargs[key] = convert(value, hints[key], f"{where}.{key}")
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        raise HarnessError(f"{where}: {exc}") from exc
    check = getattr(obj, "validate", None)
    if callable(check):
        check(where)
    return obj


def to_dict(obj: Any) -> Any:
    """Plain TOML-ready data from (nested) dataclasses; tuples become lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def require(cond: bool, where: str, message: str) -> None:
    """Range checks in `validate` methods read as one line each."""
    if not cond:
        raise HarnessError(f"{where}: {message}")


__all__ = ["convert", "from_dict", "to_dict", "suggest", "require", "typing"]
