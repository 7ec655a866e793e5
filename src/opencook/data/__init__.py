"""RefineCode data pipeline: readers, steps, writers, executors."""
