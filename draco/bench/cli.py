"""``python -m draco bench``: the command around ``draco.bench.runner``.

Apart from the benchmarks so that registering the command imports neither them
nor the local world (moto). The default size is ``small`` (seconds); ``full``
(20 sources over 60 days, DR inventories up to 10,000 copies, a 200-snapshot
burst) takes about half an hour. The markdown tables go to stdout, or to
``--out FILE``: the tracked ``benchmarks/RESULTS.md`` is rewritten only when named.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from draco.outputs import OutputError, check_writable, progress, write_text
from draco.world.local_aws import without_aws_profile


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("bench", help="measure cost, latency and throughput in the local world")
    parser.add_argument(
        "--size", default="small", help="small (default: seconds) or full (the published figures: about 30 minutes)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the markdown tables to FILE, e.g. benchmarks/RESULTS.md (default: print them)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from draco.bench import runner as bench

    if args.size not in bench.SIZES:
        return _fail(f"--size {args.size!r}: choose {' or '.join(sorted(bench.SIZES))}")
    try:
        out = check_writable(args.out) if args.out else None
    except OutputError as err:
        return _fail(str(err))
    display = progress(quiet=args.json)
    with without_aws_profile(), display:
        results = bench.run_all(args.size, None if display.disable else display)
    if out:
        try:
            write_text(out, bench.markdown(results))
        except OutputError as err:
            return _fail(str(err))
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    elif not out:
        print(bench.markdown(results))
    return 0


def _fail(message: str) -> int:
    print(f"draco bench: {message}", file=sys.stderr)
    return 2
