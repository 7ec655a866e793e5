"""``opencook lm ...`` subcommands of this subpackage (filled in by its owner)."""

from __future__ import annotations


def add_parser(lm_sub) -> None:  # noqa: ARG001 - filled in as the subpackage lands
    """Register this subpackage's ``lm`` subcommands on ``lm_sub`` (an argparse subparsers object)."""
