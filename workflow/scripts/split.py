"""Split a raw series chronologically into train and test parts."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging
from forecastlab.data import chronological_split, read_series
from forecastlab.io import write_npz


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="raw t,value CSV")
    parser.add_argument("--test-share", type=float, required=True)
    parser.add_argument("--output", required=True, help=".npz with arrays train and test")
    args = parser.parse_args(argv)
    configure_logging()

    train, test = chronological_split(read_series(args.input), args.test_share)
    write_npz(args.output, {"train": train, "test": test})
    logging.info("train %d points, test %d points -> %s", len(train), len(test), args.output)


if __name__ == "__main__":
    main()
