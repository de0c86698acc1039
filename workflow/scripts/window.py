"""Cut windows of one length from each part of a prepared study."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging
from forecastlab.io import read_npz, write_npz
from forecastlab.windows import cut_windows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="prepared .npz (train, validation, test)")
    parser.add_argument("--study", required=True, help="named in error messages")
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--cut", required=True, help="sliding, non_overlapping or series")
    parser.add_argument("--targets", nargs="+", required=True, help="target kinds")
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--output", required=True, help=".npz of inputs, targets and starts")
    args = parser.parse_args(argv)
    configure_logging()

    prepared = read_npz(args.input)
    arrays = {}
    for part in ("train", "validation", "test"):
        if part == "validation" and len(prepared[part]) == 0:
            continue  # no validation part in this study
        try:
            inputs, targets, starts = cut_windows(
                prepared[part], args.length, args.cut, args.targets, args.horizon
            )
        except ValueError as err:
            raise SystemExit(
                f"error: study {args.study}, window length {args.length}, {part} part: {err}"
            ) from None
        arrays |= {f"{part}_inputs": inputs, f"{part}_starts": starts}
        arrays |= {f"{part}_targets_{kind}": values for kind, values in targets.items()}
        logging.info("%s part: %d windows of %d", part, len(inputs), args.length)
    write_npz(args.output, arrays)


if __name__ == "__main__":
    main()
