"""Typed configs from YAML: a typo fails before any work starts, naming the key.

Every component owns a dataclass config. ``build_config`` turns a plain mapping (from a
recipe) into that dataclass, checking every key and every value's type against the
dataclass annotations, and suggesting the closest valid key for a misspelling.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A recipe or config value that cannot be used; the message names the key and the fix."""


def build_config(cls: type[T], values: dict[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``values``; ``where`` prefixes error messages ("stages[2].filter")."""
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(fields))}"
            raise ConfigError(f"{where}: unknown key '{key}'{hint}")
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = _check(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _check(value: Any, annotation: Any, where: str) -> Any:
    """Validate ``value`` against a type annotation, converting ints to floats where a float is expected."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _check(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {_name(annotation)}, got {value!r}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item_type = args[0] if args else Any
        return [_check(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, val_type = args if args else (Any, Any)
        return {
            _check(k, key_type, f"{where}.{k}"): _check(v, val_type, f"{where}.{k}") for k, v in value.items()
        }
    if dataclasses.is_dataclass(annotation):
        return build_config(annotation, value, where)
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            return float(value)  # PyYAML reads 3e-4 (no dot) as a string; users mean the number
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    raise ConfigError(f"{where}: expected {_name(annotation)}, got {value!r}")


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", str(annotation))


def to_plain(config: Any) -> Any:
    """A dataclass (nested) as plain YAML-able data, for the resolved config of a run."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_plain(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, dict):
        return {k: to_plain(v) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [to_plain(v) for v in config]
    return config


def parse_set_pairs(pairs: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` arguments as ``{dotted key: YAML value}`` (``--set optim.lr=1e-3``,
    ``--set stages[2].filter.seed=1``); a malformed one is a ``ConfigError`` naming it."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair}: expected KEY=VALUE, e.g. --set optim.lr=1e-3")
        key = key.strip()
        _key_path(key)  # a malformed key fails here, naming the override
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {pair}: the value is not valid YAML ({exc.problem}); quote it") from None
    return out


_PART = re.compile(r"([^.\[\]]+)((?:\[-?\d+\])*)")


def _key_path(dotted: str) -> list[str | int]:
    """``stages[2].filter.seed`` (or ``stages.2.filter.seed``) as ``['stages', 2, 'filter', 'seed']``."""
    path: list[str | int] = []
    for part in dotted.split("."):
        match = _PART.fullmatch(part)
        if not match:
            raise ConfigError(f"--set {dotted}: '{part}' is not a key or key[index] (e.g. stages[2].filter.seed)")
        name, indices = match.groups()
        path.append(int(name) if name.lstrip("-").isdigit() else name)
        path += [int(i) for i in re.findall(r"-?\d+", indices)]
    return path


def set_override(values: dict[str, Any], dotted: str, value: Any) -> None:
    """Set one ``--set`` override on a YAML mapping; a missing section is created, a list item must exist."""
    node: Any = values
    *parents, leaf = _key_path(dotted)
    for depth, key in enumerate([*parents, leaf]):
        last = depth == len(parents)
        where = ".".join(str(k) for k in [*parents, leaf][:depth]) or "the top level"
        if isinstance(node, list):
            if not isinstance(key, int):
                raise ConfigError(f"--set {dotted}: {where} is a list; address an item by index ({where}[0])")
            if not -len(node) <= key < len(node):
                raise ConfigError(f"--set {dotted}: {where} has {len(node)} item(s), so [{key}] is out of range")
        elif isinstance(node, dict):
            if isinstance(key, int) and key not in node:
                raise ConfigError(f"--set {dotted}: {where} is a mapping, not a list; [{key}] has nothing to address")
        else:
            raise ConfigError(f"--set {dotted}: {where} is a value ({node!r}), not a section")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and node.get(key) is None:
                node[key] = {}
            node = node[key]


def blame_overrides(load: Callable[[dict[str, Any]], T], overrides: dict[str, Any], source: str) -> T:
    """``load(overrides)``; a ``ConfigError`` that only an override causes is raised again naming that
    ``--set`` (not the recipe file ``source``, which is fine without it)."""
    try:
        return load(overrides)
    except ConfigError as exc:
        if not overrides or str(exc).startswith("--set "):
            raise
        try:
            load({})
        except ConfigError:
            raise exc from None  # the file is wrong on its own
        for key, value in overrides.items():
            try:
                load({key: value})
            except ConfigError as one:
                text = str(one).removeprefix(f"{source}: ").removeprefix(f"{source}.")
                raise ConfigError(f"--set {key}={_show(value)}: {text}") from None
        raise ConfigError(f"the --set overrides together: {str(exc).removeprefix(f'{source}: ')}") from None


def _show(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def resolve_paths(values: Any, base: Path, keys: tuple[str, ...]) -> Any:
    """Relative paths at ``keys`` taken relative to ``base`` (the recipe's folder), so a recipe means the same
    files from any working directory. A key is dotted; ``name[]`` is every item of a list
    (``stages[].ingest.paths[]``). Absolute paths, ``~``, ``$VARS``, ``{placeholders}`` and URLs stay as written."""
    for key in keys:
        _resolve_at(values, key.split("."), base)
    return values


def _resolve_at(node: Any, parts: list[str], base: Path) -> None:
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    name = head.removesuffix("[]")
    if isinstance(node, list):
        for item in node:
            _resolve_at(item, parts, base)
        return
    if not isinstance(node, dict) or node.get(name) is None:
        return
    if each and isinstance(node[name], list):
        if rest:
            for item in node[name]:
                _resolve_at(item, rest, base)
        else:
            node[name] = [_relative_to(item, base) for item in node[name]]
    elif rest:
        _resolve_at(node[name], rest, base)
    else:
        node[name] = _relative_to(node[name], base)


def _relative_to(value: Any, base: Path) -> Any:
    if (not isinstance(value, str) or not value or os.path.isabs(value) or value.startswith(("~", "$", "{"))
            or "://" in value):
        return value
    return os.path.normpath(os.path.join(base, value))


def read_yaml_config(path: Path, overrides: dict[str, Any] | None = None,
                     path_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """A YAML config file as a mapping, its relative paths at ``path_keys`` resolved against the file's folder
    (``resolve_paths``), with dotted ``overrides`` (``{"head.mode": "full"}``) set on top as typed."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    resolve_paths(values, path.parent, path_keys)
    for dotted, value in (overrides or {}).items():
        set_override(values, dotted, value)
    return values
