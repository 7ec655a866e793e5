"""make_dataset: one tagged config picks the dataset; typos and unknown kinds fail before any work."""

import pytest

from opencook.kit.config import ConfigError, to_plain
from opencook.xc.data import (
    FunctionNamesConfig,
    SyntheticClustered,
    SyntheticClusteredConfig,
    XCDataset,
    dataset_config,
    make_dataset,
)


def test_mapping_and_typed_config_build_the_same_dataset():
    from_dict = make_dataset({"kind": "synthetic", "num_classes": 100, "noise": 1})
    assert isinstance(from_dict, SyntheticClustered) and isinstance(from_dict, XCDataset)
    assert from_dict.config == SyntheticClusteredConfig(num_classes=100, noise=1.0)
    assert make_dataset(from_dict.config).describe() == from_dict.describe()


def test_resolved_config_round_trips_with_its_kind():
    cfg = FunctionNamesConfig(sources=("a", "b"), min_count=3)
    assert dataset_config(to_plain(cfg)) == cfg
    assert to_plain(cfg)["kind"] == "funcnames"


def test_unknown_kind_and_keys_are_named():
    with pytest.raises(ConfigError, match="unknown dataset kind 'synthtic'; did you mean 'synthetic'"):
        make_dataset({"kind": "synthtic"})
    with pytest.raises(ConfigError, match="unknown dataset kind None"):
        make_dataset({"num_classes": 3})
    with pytest.raises(ConfigError, match="unknown key 'num_clases'; did you mean 'num_classes'"):
        make_dataset({"kind": "synthetic", "num_clases": 3})
    with pytest.raises(ConfigError, match="group_weight"):
        make_dataset({"kind": "synthetic", "group_weight": 2.0})
