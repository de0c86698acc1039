"""Produce a study's raw series as a t,value CSV."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging, json_object
from forecastlab.data import sine_wave, write_series
from forecastlab.io import atomic_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=json_object, required=True, help="study source params")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    configure_logging()

    source = args.source
    values = sine_wave(source["period"], source["cycles"], source["noise"], args.seed)
    with atomic_path(args.output) as tmp:
        write_series(tmp, values)
    logging.info("wrote %d points to %s", len(values), args.output)


if __name__ == "__main__":
    main()
