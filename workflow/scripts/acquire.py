"""Produce a study's raw data: a t,value CSV for one series, an .npz for a textbook study."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging, json_object
from forecastlab.data import DataError, load_series, textbook_series, write_series
from forecastlab.io import atomic_path, write_npz


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=json_object, required=True, help="study source params")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output", required=True, help="CSV (one series) or .npz (textbook)")
    args = parser.parse_args(argv)
    configure_logging()

    source = args.source
    if source["kind"] == "textbook":
        series = textbook_series(source["n_series"], source["n_steps"], args.seed)
        write_npz(args.output, {"series": series})
        logging.info("wrote %d series of %d steps to %s", *series.shape, args.output)
        return
    try:
        times, values = load_series(source, args.seed)
    except DataError as err:
        raise SystemExit(f"error: {err}") from None
    with atomic_path(args.output) as tmp:
        write_series(tmp, times, values)
    logging.info("wrote %d points (%s .. %s) to %s", len(values), times[0], times[-1], args.output)


if __name__ == "__main__":
    main()
