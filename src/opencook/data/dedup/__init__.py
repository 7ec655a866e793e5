"""Deduplication stages: exact (content hash)."""
