"""The operator's command line: one sub-command per module.

Each module named in ``COMMANDS`` exposes ``register(subparsers)``, which adds
its sub-command and sets ``func`` (taking the parsed arguments, returning an
exit code). Modules are imported only when listed here, so adding a command is
one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = (
    "draco.demo",
    "draco.bootstrap",
    "draco.plan",
    "draco.soak",
    "draco.status",
    "draco.ops",
    "draco.approve",
    "draco.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m draco",
        description="DRACO: copy every RDS snapshot of a production account into a DR account.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
