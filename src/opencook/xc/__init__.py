"""Extreme classification: a class-sharded softmax head (full, KNN, random) and its trainer.

The head follows Partial FC's shape -- ``loss = head(local_embeddings, local_labels)`` inside an
ordinary DDP loop -- and works on any world size, CPU/gloo or GPU/NCCL.
"""
