"""Create the MLflow store and one experiment per study, before parallel jobs start."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging
from forecastlab.tracking import init_store, tracking_uri


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiments", nargs="+", help="experiment names (the studies)")
    args = parser.parse_args(argv)
    configure_logging()

    uri = tracking_uri()
    ids = init_store(uri, args.experiments)
    logging.info("MLflow store %s: experiments %s", uri, ids)


if __name__ == "__main__":
    main()
