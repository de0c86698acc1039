"""Create the MLflow store and one experiment per study, before parallel jobs start.

With a tracking server (MLFLOW_TRACKING_URI=http...), first check in seconds that it
answers: the workflow runs this at start, before any job is submitted.
"""

from __future__ import annotations

import argparse
import logging
import sys

from forecastlab.cli import configure_logging
from forecastlab.tracking import (
    check_server,
    init_store,
    is_server,
    runs_table_url,
    tracking_uri,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiments", nargs="+", help="experiment names (the studies)")
    parser.add_argument(
        "--require-server",
        action="store_true",
        help="fail unless MLFLOW_TRACKING_URI names a tracking server (jobs on many nodes)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for it")
    args = parser.parse_args(argv)
    configure_logging()

    uri = tracking_uri()
    try:
        if args.require_server and not is_server(uri):
            raise RuntimeError(
                f"MLflow store {uri} is a local file, which jobs on several nodes cannot "
                "share safely: set MLFLOW_TRACKING_URI to a tracking server (http://...)"
            )
        if is_server(uri):
            check_server(uri, args.timeout)
    except RuntimeError as error:
        sys.exit(f"init_tracking: {error}")
    ids = init_store(uri, args.experiments)
    logging.info("MLflow store %s: experiments %s", uri, ids)
    ui = uri if is_server(uri) else "http://127.0.0.1:5000"  # the server, or `mlflow ui`
    first = next(iter(ids))
    logging.info("%s's runs and their key columns: %s", first, runs_table_url(ui, ids[first]))


if __name__ == "__main__":
    main()
