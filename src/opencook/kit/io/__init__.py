"""Reading datasets and writing record shards: ``Dataset`` reads every format the pipeline writes or ingests;
``atomic_write`` and ``sha256_file`` are the one copy of crash-safe writes and checksums."""

from opencook.kit.io.atomic import atomic_write, sha256_file
from opencook.kit.io.dataset import Dataset, DatasetError, NoDatasetFiles, is_dataset_file

__all__ = ["Dataset", "DatasetError", "NoDatasetFiles", "atomic_write", "is_dataset_file", "sha256_file"]
