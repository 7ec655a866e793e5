"""Prefix reuse: the keys and values of prompt blocks already computed, for the next prompt that starts the same.

Every MBPP prompt opens with the same few-shot block and every chat request with the same system prompt, so
most of a prefill recomputes what the previous one computed. The cache keeps a prompt's keys and values per
block of ``block`` tokens, each block keyed by its tokens and the block before it (a chain, as vLLM's
automatic prefix caching does, without the paging): a newcomer walks its prompt block by block, copies the
matched blocks into its slot, and prefills only the rest. Blocks are evicted least recently used first, once
they hold more than ``max_bytes``; a hit refreshes its chain leaf first, so shared roots outlive the leaves
that hang from them.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import torch

from opencook.lm.generate.slots import SlotCache

_ROOT = 0


class PrefixCache:
    """Blocks of keys/values ``[2 * layers, kv_heads, block, head_dim]``, keyed ``(parent id, block tokens)``."""

    def __init__(self, max_bytes: int, block: int = 32) -> None:
        if block < 1:
            raise ValueError(f"prefix block={block}: must be >= 1 token")
        self.max_bytes, self.block = max_bytes, block
        self._ids: dict[tuple[int, tuple[int, ...]], int] = {}
        self._blocks: collections.OrderedDict[int, tuple[tuple[int, tuple[int, ...]], torch.Tensor]] = (
            collections.OrderedDict())
        self._next_id = _ROOT + 1
        self.bytes = 0

    def _starts(self, ids: Sequence[int]) -> range:
        """Where the full blocks of ``ids`` start, leaving at least the last prompt token out, so a prefill
        always has one token to give the next-token logits."""
        return range(0, len(ids) - self.block, self.block)

    def _chain(self, ids: Sequence[int]) -> list[int]:
        """The ids of the cached blocks that ``ids`` starts with, root first."""
        chain, parent, b = [], _ROOT, self.block
        for start in self._starts(ids):
            node = self._ids.get((parent, tuple(ids[start: start + b])))
            if node is None:
                break
            chain.append(node)
            parent = node
        return chain

    def _touch(self, chain: list[int]) -> None:
        for node in reversed(chain):  # leaves first: the root ends up most recent and is evicted last
            self._blocks.move_to_end(node)

    def load(self, cache: SlotCache, slot: int, ids: Sequence[int]) -> int:
        """Copy the longest cached prefix of ``ids`` into ``slot``; return its length in tokens."""
        chain = self._chain(ids)
        if not chain:
            return 0
        self._touch(chain)
        kv = torch.cat([self._blocks[n][1] for n in chain], dim=2)
        length = kv.shape[2]
        layers = len(cache.k)
        for i in range(layers):
            cache.k[i][slot, :, :length] = kv[i]
            cache.v[i][slot, :, :length] = kv[layers + i]
        return length

    def store(self, cache: SlotCache, slot: int, ids: Sequence[int]) -> None:
        """Keep every full block of the prompt ``ids`` (now prefilled in ``slot``) that is not cached yet."""
        if self.max_bytes <= 0:
            return
        parent, b, chain = _ROOT, self.block, []
        for start in self._starts(ids):
            key = (parent, tuple(ids[start: start + b]))
            node = self._ids.get(key)
            if node is None:
                kv = torch.stack([buf[slot, :, start: start + b] for buf in cache.k + cache.v])
                node, self._next_id = self._next_id, self._next_id + 1
                self._ids[key] = node
                self._blocks[node] = (key, kv)
                self.bytes += kv.numel() * kv.element_size()
            chain.append(node)
            parent = node
        self._touch(chain)
        while self.bytes > self.max_bytes and self._blocks:
            _, (key, kv) = self._blocks.popitem(last=False)
            del self._ids[key]
            self.bytes -= kv.numel() * kv.element_size()

    def __len__(self) -> int:
        return len(self._blocks)
