"""Shared pieces of the command-line adapters in workflow/scripts."""

from __future__ import annotations

import argparse
import json
import logging
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
