"""envs/: every rule names a conda environment, pinned exactly as requirements.lock."""

from __future__ import annotations

import re

import pytest
import yaml
from packaging.utils import canonicalize_name

from forecastlab import layout
from tests.conftest import REPO

RULE_FILES = sorted((REPO / "workflow/rules").glob("*.smk"))


def locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def rule_environments() -> dict[str, str]:
    """rule name -> the path its conda directive gives, for every rule that runs a command
    (the train and verify rules, one each per study and seed list, made in a loop, by the
    name their names start with: train_model, verify_model)."""
    found = {}
    for path in RULE_FILES:
        for block in re.split(r"^(?=[ ]*rule\b)", path.read_text(), flags=re.M)[1:]:
            name = re.match(r"\s*rule\s*(\w*):", block).group(1)
            if not name:
                kind = re.search(r'group\["rules"\]\[layout\.(\w+)\]', block).group(1)
                name = getattr(layout, kind)
            assert "    shell:" in block, f"{path.name}: rule {name} runs no shell command"
            conda = re.search(r'^\s+conda:\n\s+"([^"]+)"', block, re.M)
            assert conda, f"{path.name}: rule {name} names no conda environment"
            found[name] = str((path.parent / conda.group(1)).resolve())
    return found


def test_every_rule_names_an_environment_file_of_envs():
    environments = rule_environments()
    assert (
        len(environments) == 10
    )  # acquire, split, window, train, verify, 4 reports, MLflow parents
    assert environments["track_models"] == str(REPO / "envs/numpy.yaml")  # MLflow, no TF
    assert {str(p) for p in (REPO / "envs").glob("*.yaml")} == set(environments.values())
    assert environments["train_model"] == str(REPO / "envs/tensorflow.yaml")
    assert environments["verify_model"] == str(REPO / "envs/numpy.yaml")


@pytest.mark.parametrize("name", ["tensorflow", "numpy", "report", "computations"])
def test_environment_pins_equal_the_lock(name):
    environment = yaml.safe_load((REPO / f"envs/{name}.yaml").read_text())
    assert "python=3.11" in environment["dependencies"]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    lock = locked()
    for requirement in pip:
        package, version = requirement.split("==")
        assert lock.get(canonicalize_name(package)) == version, f"envs/{name}.yaml: {requirement}"
    pinned = {canonicalize_name(r.split("==")[0]) for r in pip}
    main = {"tensorflow": "tensorflow-cpu", "computations": "tensorflow-cpu"}.get(name, "numpy")
    assert canonicalize_name(main) in pinned
