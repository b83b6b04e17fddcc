"""Run benchmarks: ``python -m bench [name ...] [--postgres URL]``; every benchmark by default."""

from __future__ import annotations

import argparse
import asyncio
import importlib

BENCHMARKS = ("councils", "feeds", "petitions", "federation", "reviews")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run (default: all)")
    parser.add_argument("--postgres", metavar="URL", help="run against this PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        asyncio.run(module.run(args.postgres))


if __name__ == "__main__":
    main()
