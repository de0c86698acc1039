"""The library modules each job runs are read from the imports, lazy ones included."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from forecastlab import layout
from forecastlab.library import imported_modules, library_modules, module_files, source_code
from tests.conftest import REPO

SCRIPTS = REPO / "workflow/scripts"


def test_every_form_of_import_is_found_and_other_packages_are_not():
    code = """
import forecastlab.alpha
import forecastlab.beta.inner as inner, os
from forecastlab import gamma, delta as renamed
from forecastlab.epsilon import thing
import forecastlabs.not_ours
from other.forecastlab import not_ours_either

def later():
    from forecastlab.zeta import lazily
"""
    found = imported_modules(code)
    assert found == {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}


def test_the_closure_follows_each_modules_imports_and_skips_what_is_no_module(tmp_path):
    package = tmp_path / "forecastlab"
    package.mkdir()
    (package / "__init__.py").write_text("from forecastlab import base\n")
    (package / "base.py").write_text("")
    (package / "top.py").write_text("def f():\n    from forecastlab.deep import x\n")
    (package / "deep.py").write_text("import forecastlab.base\n")
    script = tmp_path / "script.py"
    script.write_text("from forecastlab import top, not_a_module\n")
    assert library_modules(script, package) == ["__init__", "base", "deep", "top"]
    assert module_files(["top"]) == ["src/forecastlab/top.py"]


def test_a_notebook_is_read_from_its_code_cells_without_magics(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["import forecastlab.not_code\n"]},
            {"cell_type": "code", "source": ["%matplotlib inline\n", "import forecastlab.views"]},
        ]
    }
    path = tmp_path / "report.ipynb"
    path.write_text(json.dumps(notebook))
    assert imported_modules(source_code(path)) == {"views"}


def test_the_train_job_lists_the_modules_it_imports_late_and_verify_stays_without_keras():
    train = library_modules(SCRIPTS / "train.py")
    # train.py imports these only after its arguments parsed.
    assert {"models", "training", "modes", "numerics", "tracking"} <= set(train)
    verify = library_modules(SCRIPTS / "verify.py")
    assert "handcheck" in verify and not {"models", "training"} & set(verify)


def test_what_each_module_holds_from_the_package_is_in_its_closure():
    # The check of the reading from another side: import every module, then look at what
    # each one's namespace holds (modules, and functions and classes by their __module__).
    probe = """
import importlib, inspect, json, pathlib, sys
held = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):
    if path.stem == "__init__":
        continue
    module = importlib.import_module("forecastlab." + path.stem)
    names = set()
    for value in vars(module).values():
        name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith("forecastlab."):
            names.add(name.split(".")[1])
    held[path.stem] = sorted(names - {path.stem})
print(json.dumps(held))
"""
    source = REPO / "src/forecastlab"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(source)], capture_output=True, text=True, check=True
    )
    held = json.loads(done.stdout.splitlines()[-1])
    assert len(held) > 30 and held["summary"]  # every module, and one that holds others
    for module, names in held.items():
        missing = set(names) - set(library_modules(source / f"{module}.py"))
        assert not missing, f"{module} holds {sorted(missing)}, not in its closure"


def fixed_folder(pattern: str) -> str:
    """Where a catalog pattern's files live before its first wildcard: the folder DVC
    tracks for it ("models/{run}/model.keras" -> "models"), or the file itself."""
    fixed = pattern.split("{", 1)[0]
    return fixed.rstrip("/") if "{" not in pattern else fixed.rsplit("/", 1)[0]


def test_dvc_tracks_exactly_what_the_catalog_says_the_pipeline_writes():
    patterns = [
        layout.RAW,
        layout.PREPARED,
        layout.WINDOWS,
        *layout.RUN_FILES.values(),
        *layout.RESULTS.values(),
        layout.REPORT,
    ]
    catalog = {fixed_folder(pattern) for pattern in patterns}
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].values()
    tracked = {
        next(iter(out)) if isinstance(out, dict) else out
        for stage in stages
        for key in ("outs", "metrics")
        for out in stage.get(key, [])
    }
    # A folder DVC tracks may hold several catalog entries (results/eval: eval.json and
    # predictions.npz), but every entry is tracked and nothing else is.
    assert catalog == tracked


def test_run_names_are_written_and_parsed_by_one_pattern():
    name = layout.run_name("sine", 50, "gru", 43)
    assert (
        name
        == "sine/w50/gru/seed43"
        == layout.RUN.format(**layout.parse_run_name(name) | {"length": 50})
    )
    assert layout.parse_run_name("sine/w50/gru") == {
        "study": "sine",
        "length": 50,
        "arch": "gru",
        "seed": None,
    }
    assert layout.run_pattern("model", 42) == "models/{study}/w{length}/{arch}/seed42/model.keras"
    with pytest.raises(ValueError, match="is not a model name"):
        layout.parse_run_name("sine/50/gru")


def test_rules_spell_no_path_the_catalog_defines():
    # Paths are layout's (and common.smk's SCRIPT and TEMPLATE): a rule file that spells
    # one again would drift from its readers.
    spelled = re.compile(r'"(data|models|results|reports|logs|benchmarks)/[^"]*"')
    for rules in (REPO / "workflow/rules").glob("*.smk"):
        found = spelled.findall(rules.read_text())
        assert not found, f"{rules.name} spells {found}"
