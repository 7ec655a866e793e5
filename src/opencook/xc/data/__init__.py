"""Datasets for the extreme-classification trainer, behind one protocol (``XCDataset``).

``synthetic``: clustered classes with confusable neighbours, any class count (dense inputs).
``funcnames``: predict a Python function's name from its body (token inputs), from .py trees or a
RefineCode Parquet dataset. Both serve the same global batch for a step whatever the world size.
"""

from opencook.xc.data.factory import DATASETS, DatasetConfig, dataset_config, make_dataset
from opencook.xc.data.funcnames import FunctionNames, FunctionNamesConfig
from opencook.xc.data.protocol import PAD_LABEL, XCDataset, eval_rows, rank_rows
from opencook.xc.data.synthetic import SyntheticClustered, SyntheticClusteredConfig

__all__ = [
    "DATASETS",
    "PAD_LABEL",
    "DatasetConfig",
    "FunctionNames",
    "FunctionNamesConfig",
    "SyntheticClustered",
    "SyntheticClusteredConfig",
    "XCDataset",
    "dataset_config",
    "eval_rows",
    "make_dataset",
    "rank_rows",
]
