"""The class-sharded softmax head, Partial FC's shape: one module a user drops into a DDP loop.

    from opencook.xc.head import ShardedSoftmax
    head = ShardedSoftmax(embedding_dim, num_classes, mode="knn", active_budget=10_000)
    loss = head(local_embeddings, local_labels)

Exports resolve on first use (``opencook.kit.lazy``), so importing the package does not import torch.
"""

from opencook.kit.lazy import lazy_exports

_WHERE = {
    "ShardedSoftmax": "softmax",
    "KNNSoftmax": "softmax",
    "HeadConfig": "config",
    "LogitConfig": "logits",
    "SelectionConfig": "selection",
    "StepClock": "timing",
    "ActiveSet": "active_set",
    "MODES": "active_set",
    "sharded_cross_entropy": "sharded_ce",
    "sharded_topk": "topk",
}
__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, globals(), _WHERE)
