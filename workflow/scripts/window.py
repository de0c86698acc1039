"""Cut sliding windows of one length from each part of a prepared series."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging
from forecastlab.io import read_npz, write_npz
from forecastlab.windows import sliding_windows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="prepared .npz (train, test)")
    parser.add_argument("--study", required=True, help="named in error messages")
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--output", required=True, help=".npz of windows and targets")
    args = parser.parse_args(argv)
    configure_logging()

    parts = read_npz(args.input)
    arrays = {}
    for part in ("train", "test"):
        try:
            arrays[f"{part}_inputs"], arrays[f"{part}_targets"] = sliding_windows(
                parts[part], args.length
            )
        except ValueError as err:
            raise SystemExit(
                f"study {args.study}, window {args.length}, {part} part: {err}"
            ) from None
    write_npz(args.output, arrays)
    logging.info(
        "%d train and %d test windows of %d -> %s",
        len(arrays["train_inputs"]),
        len(arrays["test_inputs"]),
        args.length,
        args.output,
    )


if __name__ == "__main__":
    main()
