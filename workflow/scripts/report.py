"""Render a report: papermill executes a template with parameters, nbconvert writes HTML."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging, json_object
from forecastlab.reporting import render_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", required=True, help="papermill template .ipynb")
    parser.add_argument("--parameters", type=json_object, required=True, help="JSON object")
    parser.add_argument("--notebook", required=True, help="executed .ipynb to write")
    parser.add_argument("--html", required=True, help="HTML to write")
    args = parser.parse_args(argv)
    configure_logging()

    render_report(args.template, args.notebook, args.html, args.parameters)
    logging.info("%s rendered -> %s", args.template, args.html)


if __name__ == "__main__":
    main()
