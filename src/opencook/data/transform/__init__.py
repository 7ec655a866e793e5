"""Transform stage: copyright-header removal and PII/secret redaction."""

from opencook.data.transform.copyright import remove_copyright_header
from opencook.data.transform.pii import redact_pii
from opencook.data.transform.step import Transform, TransformConfig

__all__ = ["Transform", "TransformConfig", "redact_pii", "remove_copyright_header"]
