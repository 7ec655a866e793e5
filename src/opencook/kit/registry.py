"""Name -> class, for everything a config names by a word: stages, executors, datasets, optimizers.

A name may be registered as ``"package.module:Class"`` and is imported only when first looked up,
so listing names or printing ``--help`` imports none of the heavy modules (torch, pyarrow) behind
them. An unknown name is a ``ConfigError`` that says where it was written, the closest known name
and every known name.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from opencook.kit.config import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """``kind`` names what is registered ("stage", "executor") in error messages."""

    def __init__(self, kind: str, entries: dict[str, type[T] | str] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, type[T] | str] = {}
        for name, target in (entries or {}).items():
            self.add(name, target)

    def add(self, name: str, target: type[T] | str) -> None:
        """Register ``target`` (a class, or ``"module:attr"`` imported on first lookup) as ``name``."""
        if isinstance(target, str) and ":" not in target:
            raise ValueError(f"{self.kind} '{name}': a lazy target is 'package.module:attr', got {target!r}")
        if name in self._entries and self._entries[name] is not target:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = target

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: ``@STAGES.register("sample")``."""

        def deco(cls: type[T]) -> type[T]:
            self.add(name, cls)
            return cls

        return deco

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def get(self, name: str, where: str = "") -> type[T]:
        """The class registered as ``name``; ``where`` (e.g. "recipe.yaml: stages[2]") prefixes the error."""
        if not isinstance(name, str) or name not in self._entries:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            prefix = f"{where}: " if where else ""
            raise ConfigError(f"{prefix}unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})")
        target = self._entries[name]
        if isinstance(target, str):
            module, attr = target.split(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target
