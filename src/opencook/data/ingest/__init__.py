"""Ingest: raw repositories, archives and file-record dumps -> records (RefineCode "Preprocess").

See docs/ingest.md. ``plan_ingest`` cuts the inputs into tasks; ``read_task`` turns one
task into records and counts every file it drops in a ``StageStats``.
"""

from opencook.data.ingest.config import IngestConfig, IngestError, IngestTask
from opencook.data.ingest.languages import detect_language, doc_type_for
from opencook.data.ingest.sources import plan_ingest, read_task
from opencook.data.ingest.step import Ingest

__all__ = [
    "Ingest",
    "IngestConfig",
    "IngestError",
    "IngestTask",
    "detect_language",
    "doc_type_for",
    "plan_ingest",
    "read_task",
]
