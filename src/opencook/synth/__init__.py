"""Synthetic data for annealing and SFT (OpenCoder): an algorithmic corpus selected from RefineCode, and
teacher-written, execution-verified samples (Educational-Instruct, Package-Instruct, snippets, textbooks)."""
