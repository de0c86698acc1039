"""Executing a papermill template and rendering it as HTML with the code hidden."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbconvert import HTMLExporter

from forecastlab.io import atomic_path


def render_report(
    template: str | Path, notebook: str | Path, html: str | Path, parameters: Mapping[str, Any]
) -> None:
    """Run `template` with `parameters` on the python3 kernel; write the notebook and HTML.

    Both files are written atomically, so a failed run leaves neither.
    """
    with atomic_path(notebook) as executed:
        papermill.execute_notebook(
            str(template),
            str(executed),
            parameters=dict(parameters),
            kernel_name="python3",
            progress_bar=False,
            cwd=str(Path.cwd()),
        )
        exporter = HTMLExporter(
            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
        )
        body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
        with atomic_path(html) as tmp:
            tmp.write_text(body)
