"""Split a study's raw data chronologically and scale it with a scaler fitted on train only."""

from __future__ import annotations

import argparse
import logging

import numpy as np

from forecastlab.cli import configure_logging, json_object
from forecastlab.data import chronological_split, fit_scaler, read_series, scale, split_sizes
from forecastlab.io import read_npz, write_npz


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="raw t,value CSV or textbook .npz")
    parser.add_argument("--study", required=True, help="named in error messages")
    parser.add_argument("--split", type=json_object, required=True, help="split params")
    parser.add_argument("--scaler", required=True, help="none, minmax or standard")
    parser.add_argument("--output", required=True, help=".npz: train, validation, test, scaler")
    args = parser.parse_args(argv)
    configure_logging()

    try:
        series = (
            read_npz(args.input)["series"]
            if args.input.endswith(".npz")
            else read_series(args.input)
        )
        sizes = split_sizes(len(series), **args.split)
        parts = chronological_split(series, sizes)
        offset, scale_ = fit_scaler(args.scaler, parts["train"])
    except ValueError as err:
        raise SystemExit(f"error: study {args.study}: {err}") from None
    arrays = {name: scale(part, offset, scale_) for name, part in parts.items()}
    arrays |= {
        "scaler_kind": np.array(args.scaler),
        "scaler_offset": np.array(offset),
        "scaler_scale": np.array(scale_),
    }
    write_npz(args.output, arrays)
    logging.info(
        "%s: train %d, validation %d, test %d; %s scaling (offset %g, scale %g) -> %s",
        args.study,
        *sizes,
        args.scaler,
        offset,
        scale_,
        args.output,
    )


if __name__ == "__main__":
    main()
