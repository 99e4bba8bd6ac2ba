"""`kehu import` and `kehu export`: registered on the main parser by kehu.cli."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add the import/export sub-commands to the ``kehu`` parser."""
