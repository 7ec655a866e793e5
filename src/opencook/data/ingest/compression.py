"""Moved to ``opencook.kit.io.compression`` (the ground floor), where ``kit.io.Dataset`` reads with it too."""

from opencook.kit.io.compression import open_decompressed

__all__ = ["open_decompressed"]
