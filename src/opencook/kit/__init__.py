"""Shared core: config, run directory, stats, executors, I/O."""
