"""Packed token shards and mixtures for pretraining, and masked ChatML examples for SFT."""
