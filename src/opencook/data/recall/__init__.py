"""Code-related web text recall (OpenCoder): web-text readers, a fastText classifier on BPE tokens,
the ``web_ingest`` and ``recall_score`` pipeline stages, and the iterative domain/URL-pattern loop.
See docs/recall.md."""

from opencook.data.recall.classifier import CodeClassifier, FastTextConfig
from opencook.data.recall.loop import RecallConfig, RecallResult, RoundReport, run_recall
from opencook.data.recall.pages import domain_of, iter_pages, page_format, page_record
from opencook.data.recall.score import RecallScore, RecallScoreConfig
from opencook.data.recall.source import WebIngestConfig
from opencook.data.recall.urls import UrlPatterns, derive_patterns

__all__ = [
    "CodeClassifier", "FastTextConfig", "RecallConfig", "RecallResult", "RecallScore", "RecallScoreConfig",
    "RoundReport", "UrlPatterns", "WebIngestConfig", "derive_patterns", "domain_of", "iter_pages", "page_format",
    "page_record", "run_recall",
]
