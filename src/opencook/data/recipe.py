"""A recipe: an ordered list of stages with their configs, loaded and checked before any work."""

from __future__ import annotations

import dataclasses
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opencook.data.stages import stage_class
from opencook.kit.config import ConfigError, build_config, resolve_paths, to_plain
from opencook.kit.step import Step


@dataclass
class RecipeConfig:
    """Top-level keys of a recipe file. ``seed`` fills every stage's ``seed`` left unset; ``rejects`` keeps every
    dropped record with its reason (``data/rejects.py``)."""

    name: str = "run"
    seed: int = 0
    rejects: bool = False
    stages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Recipe:
    name: str
    seed: int
    stages: list[tuple[type[Step], Any]]  # (step class, its config)
    rejects: bool = False

    def resolved(self) -> dict[str, Any]:
        """The recipe with every default filled in: saved with the run, and enough to rerun it."""
        return {
            "name": self.name,
            "seed": self.seed,
            **({"rejects": True} if self.rejects else {}),  # absent when off: older run directories still match
            "stages": [{spec.name: to_plain(cfg)} for spec, cfg in self.stages],
        }


def _expand(value: Any) -> Any:
    """``{python_stdlib}`` in a string becomes this interpreter's standard library directory."""
    if isinstance(value, str):
        return value.replace("{python_stdlib}", sysconfig.get_paths()["stdlib"])
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def parse_recipe(data: Any, source: str = "recipe") -> Recipe:
    top = build_config(RecipeConfig, data, source)
    if not top.stages:
        raise ConfigError(f"{source}: 'stages' is empty; list at least an ingest and a write stage")
    stages: list[tuple[type[Step], Any]] = []
    for i, entry in enumerate(top.stages):
        where = f"{source}: stages[{i}]"
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"{where}: each stage is a mapping with one key, the stage name (e.g. '- filter: {{}}')")
        (name, values), = entry.items()
        spec = stage_class(str(name), where)
        values = dict(_expand(values or {}))
        cls = spec.config_cls
        if "seed" in {f.name for f in dataclasses.fields(cls)} and "seed" not in values:
            values["seed"] = top.seed
        stages.append((spec, build_config(cls, values, f"{where}.{name}")))
    kinds = [spec.kind for spec, _ in stages]
    if kinds[0] != "source":
        raise ConfigError(f"{source}: the first stage must be 'ingest', got '{stages[0][0].name}'")
    if kinds.count("source") > 1:
        raise ConfigError(f"{source}: only the first stage may be 'ingest'")
    if "sink" in kinds[:-1]:
        raise ConfigError(f"{source}: 'write' must be the last stage")
    return Recipe(name=top.name, seed=top.seed, stages=stages, rejects=top.rejects)


# relative paths in a recipe file are relative to the file (kit.config.resolve_paths)
PATH_KEYS = ("stages[].ingest.paths[]", "stages[].ingest.metadata", "stages[].web_ingest.paths[]",
             "stages[].stack_v2.paths[]", "stages[].stack_v2.mirror",
             "stages[].decontaminate.extra_paths[]", "stages[].decontaminate.mbpp_dir")


def load_recipe(path: Path) -> Recipe:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read recipe {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_recipe(resolve_paths(data, Path(path).parent, PATH_KEYS), str(path))
