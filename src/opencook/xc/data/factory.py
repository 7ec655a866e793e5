"""Build a dataset from its tagged config: ``{"kind": "synthetic" | "funcnames", ...settings}``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opencook.kit.config import ConfigError, build_config
from opencook.kit.registry import Registry
from opencook.xc.data.funcnames import FunctionNames, FunctionNamesConfig
from opencook.xc.data.protocol import XCDataset
from opencook.xc.data.synthetic import SyntheticClustered, SyntheticClusteredConfig

DatasetConfig = SyntheticClusteredConfig | FunctionNamesConfig
DATASETS: Registry[XCDataset] = Registry("dataset kind", {
    "synthetic": SyntheticClustered,
    "funcnames": FunctionNames,
})
DATASET_CONFIGS: Registry[DatasetConfig] = Registry("dataset kind", {
    "synthetic": SyntheticClusteredConfig,
    "funcnames": FunctionNamesConfig,
})


def dataset_config(values: Mapping[str, Any] | DatasetConfig, where: str = "dataset") -> DatasetConfig:
    """A typed config from a mapping (checked key by key, typos named) or an already typed one."""
    if dataclasses.is_dataclass(values):
        if not isinstance(values, SyntheticClusteredConfig | FunctionNamesConfig):
            raise ConfigError(f"{where}: not a dataset config: {type(values).__name__}")
        return values
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a 'kind', got {type(values).__name__}")
    return build_config(DATASET_CONFIGS.get(values.get("kind"), f"{where}.kind"), dict(values), where)


def make_dataset(config: Mapping[str, Any] | DatasetConfig) -> XCDataset:
    config = dataset_config(config)
    return DATASETS.get(config.kind)(config)
