"""Shared pieces of the command-line adapters in workflow/scripts."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Collection, Mapping
from typing import Any


def configure_logging() -> None:
    """One timestamped line per message on stderr (rules redirect it to their log)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


def json_object(text: str) -> dict[str, Any]:
    """argparse type for a JSON object argument such as --hyperparams '{"units": 1}'."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def add_seed_files(
    parser: argparse.ArgumentParser, roles: Mapping[str, str], optional: Collection[str] = ()
) -> None:
    """--seeds and, for each role ({"model": ".keras file to write"}), one file per seed
    in their order (--model a.keras b.keras): a job's arguments for all of a model's
    seeds. A role in `optional` may be left out."""
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="the model's seeds")
    for role, about in roles.items():
        parser.add_argument(
            f"--{role}", nargs="+", required=role not in optional, help=f"{about}, per seed"
        )


def seed_files(
    parser: argparse.ArgumentParser, args: argparse.Namespace, roles: Collection[str]
) -> list[dict[str, str | None]]:
    """Each seed's files by role, in the order of --seeds (None for an optional role left
    out); a role given another number of files than seeds stops with parser.error,
    naming it."""
    count = len(args.seeds)
    given = {role: getattr(args, role) or [None] * count for role in roles}
    for role, files in given.items():
        if len(files) != count:
            parser.error(f"--{role} needs one file per seed ({count}), got {len(files)}")
    return [{role: files[index] for role, files in given.items()} for index in range(count)]
