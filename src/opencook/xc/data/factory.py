"""Build a dataset from its tagged config: ``{"kind": "synthetic" | "funcnames", ...settings}``."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from opencook.kit.config import ConfigError, build_config
from opencook.xc.data.funcnames import FunctionNames, FunctionNamesConfig
from opencook.xc.data.protocol import XCDataset
from opencook.xc.data.synthetic import SyntheticClustered, SyntheticClusteredConfig

DatasetConfig = SyntheticClusteredConfig | FunctionNamesConfig
DATASETS: dict[str, tuple[type, type]] = {
    "synthetic": (SyntheticClusteredConfig, SyntheticClustered),
    "funcnames": (FunctionNamesConfig, FunctionNames),
}


def dataset_config(values: Mapping[str, Any] | DatasetConfig, where: str = "dataset") -> DatasetConfig:
    """A typed config from a mapping (checked key by key, typos named) or an already typed one."""
    if dataclasses.is_dataclass(values):
        if not isinstance(values, SyntheticClusteredConfig | FunctionNamesConfig):
            raise ConfigError(f"{where}: not a dataset config: {type(values).__name__}")
        return values
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a 'kind', got {type(values).__name__}")
    kind = values.get("kind")
    if kind not in DATASETS:
        close = difflib.get_close_matches(str(kind), list(DATASETS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{where}.kind: unknown dataset kind {kind!r}{hint} (known: {', '.join(DATASETS)})")
    return build_config(DATASETS[kind][0], dict(values), where)


def make_dataset(config: Mapping[str, Any] | DatasetConfig) -> XCDataset:
    config = dataset_config(config)
    return DATASETS[config.kind][1](config)
