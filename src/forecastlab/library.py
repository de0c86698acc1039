"""Which of forecastlab's modules a workflow script or notebook runs, read from the imports.

Every rule lists the modules its job imports as inputs, so that editing one reruns exactly
the jobs that run it (Snakemake's mtime and input triggers). The lists are computed here
from the source, imports inside functions included (train.py imports TensorFlow's side of
the library only after its arguments parsed), and closed over the modules' own imports:
a new module, or a new import, cannot be forgotten.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "forecastlab"
SOURCE = Path(__file__).resolve().parent  # src/forecastlab


def source_code(path: str | Path) -> str:
    """A script's text, or a notebook's code cells joined (magics and shell lines left out)."""
    text = Path(path).read_text()
    if Path(path).suffix != ".ipynb":
        return text
    cells = json.loads(text)["cells"]
    lines = [
        line
        for cell in cells
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return "\n".join(lines)


def imported_modules(code: str, package: str = PACKAGE) -> set[str]:
    """The modules of `package` that `code` imports anywhere in it: `import package.x`,
    `from package import x` (when x is a module), `from package.x import y`; by name x."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == package:
                names += [f"{package}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == package and len(parts) > 1:
                found.add(parts[1])
    return found


def library_modules(entry: str | Path, source: Path = SOURCE) -> list[str]:
    """The modules a script or notebook `entry` runs, with those they import in turn and
    the package's __init__ (which every import of the package runs): sorted names, each
    a file source/<name>.py."""
    modules = {"__init__"}
    queue = [source_code(entry), (source / "__init__.py").read_text()]
    while queue:
        for name in imported_modules(queue.pop()) - modules:
            path = source / f"{name}.py"
            if path.is_file():  # a subpackage's name or a mistyped one is not a file here
                modules.add(name)
                queue.append(path.read_text())
    return sorted(modules)


def module_files(modules: Iterable[str], folder: str = f"src/{PACKAGE}") -> list[str]:
    """The files of `modules`, as paths from the project folder."""
    return [f"{folder}/{name}.py" for name in modules]
