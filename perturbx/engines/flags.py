"""The engine flags of the command line: ``--engine``, ``--address``, ``--workers``."""

from __future__ import annotations

import argparse
from typing import Any

from perturbx.errors import PerturbxError


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """``--engine``, ``--address`` and ``--workers`` (they override the YAML's ``engine:`` block)."""
    parser.add_argument("--engine", choices=("local", "ray"), help="where the work runs (default: the YAML's, local)")
    parser.add_argument("--address", help="ray: a cluster head HOST:PORT, 'auto', or omit to start a local Ray")
    parser.add_argument("--workers", type=int, help="ray: number of workers (actors, each holding the model)")


def engine_override(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any] | None:
    """The YAML's engine with the flags applied, or None when no flag was given."""
    given = {"kind": args.engine, "address": args.address, "workers": args.workers}
    given = {key: value for key, value in given.items() if value is not None}
    if not given:
        return None
    if args.workers is not None and args.workers < 1:
        raise PerturbxError(f"--workers: expected an int >= 1, got {args.workers}")
    merged = {**base, **given}
    if merged.get("kind", "local") == "local" and ("address" in given or "workers" in given):
        raise PerturbxError("--address/--workers: they apply to --engine ray")
    return merged
