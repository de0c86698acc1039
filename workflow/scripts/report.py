"""Render one study's report: papermill executes the template, nbconvert writes HTML."""

from __future__ import annotations

import argparse
import json
import logging

from forecastlab.cli import configure_logging
from forecastlab.reporting import render_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", required=True, help="papermill template .ipynb")
    parser.add_argument("--study", required=True)
    parser.add_argument("--manifest", type=json.loads, required=True, help="JSON list of runs")
    parser.add_argument("--notebook", required=True, help="executed .ipynb to write")
    parser.add_argument("--html", required=True, help="HTML to write")
    args = parser.parse_args(argv)
    configure_logging()

    render_report(
        args.template, args.notebook, args.html, {"study": args.study, "runs": args.manifest}
    )
    logging.info("%s: report with %d runs -> %s", args.study, len(args.manifest), args.html)


if __name__ == "__main__":
    main()
