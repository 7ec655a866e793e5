"""The KNN graph over class centres that picks KNN softmax's active classes.

``build_class_graph`` gives every rank the same [C, k] graph (k OTHER classes per class), exactly
for small C and with faiss IVF/HNSW for large C; ``graph_recall`` / ``sample_recall`` measure it;
``rebuild_graph`` returns one build as a ``GraphBuild`` record (graph, method, step, seconds, recall).
"""

from .build import GraphBuild, build_class_graph, knn_rows, rebuild_graph
from .config import GraphConfig
from .exact import Neighbours, exact_knn
from .recall import graph_recall, sample_recall

__all__ = ["GraphBuild", "GraphConfig", "Neighbours", "build_class_graph", "exact_knn", "graph_recall",
           "knn_rows", "rebuild_graph", "sample_recall"]
