"""The operator's command line, ``draco`` or ``python -m draco``: one sub-command per module.

Each module named in ``COMMANDS`` exposes ``register(subparsers)``, which adds
its sub-command and sets ``func`` (taking the parsed arguments, returning an
exit code); adding a command is one line here. Registering must stay cheap and
safe: a command module imports nothing heavy at its top (moto, the local world,
Chalice, boto3 sessions), only inside the functions that run, so ``--help``
works fast and in any environment, even with a stale ``AWS_PROFILE``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import ProfileNotFound

COMMANDS = (
    "draco.demo",
    "draco.bootstrap",
    "draco.plan",
    "draco.bench.soak",
    "draco.status",
    "draco.ops",
    "draco.approve",
    "draco.drill",
    "draco.package",
    "draco.bench.cli",
)


def build_parser(prog: str = "python -m draco") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="DRACO: copy every RDS snapshot of a production account into a DR account.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prog = "draco" if Path(sys.argv[0]).name == "draco" else "python -m draco"
    args = build_parser(prog).parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (draco ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ProfileNotFound as err:
        profile = err.kwargs.get("profile", "")
        print(
            f"draco: AWS profile {profile!r} not found (pass --profile, or fix AWS_PROFILE; "
            "aws configure list-profiles lists them)",
            file=sys.stderr,
        )
        return 2
