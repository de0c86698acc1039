"""The README's commands, run as written on the tiny pipeline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.conftest import BIN, REPO, run, wait_for

README = (REPO / "README.md").read_text()


def commands_under(heading: str) -> list[str]:
    """The lines of the first ```bash block after `## heading`, without their comments."""
    section = README[README.index(f"## {heading}\n") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [re.split(r"\s+#\s", line)[0].strip() for line in block.splitlines() if line.strip()]


def test_setup_is_two_commands_and_ci_runs_the_test_one():
    assert commands_under("Set up and run") == ["bash bin/pipeline", "bash bin/test"]
    assert "bash bin/test" in (REPO / ".ci/run").read_text()


@pytest.mark.slow
def test_everyday_commands_work_as_written(pipeline_repo):
    for command in commands_under("Everyday commands"):
        if command.startswith("mlflow ui"):
            ui = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=pipeline_repo,
                env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its server workers too are stopped below
            )
            try:
                assert wait_for("http://127.0.0.1:5000/health", ui) == 200
            finally:
                os.killpg(ui.pid, signal.SIGTERM)
                try:
                    ui.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a loaded machine: stop it for sure
                    os.killpg(ui.pid, signal.SIGKILL)
                    ui.wait()
        else:
            run(["bash", "-c", command], pipeline_repo)
    assert (pipeline_repo / "dvc_plots/index.html").exists()


@pytest.mark.slow
def test_sharing_commands_work_as_written(pipeline_repo):
    script = "set -euo pipefail\n" + "\n".join(commands_under("Sharing results with DVC"))
    result = run(["bash", "-c", script], pipeline_repo)
    assert "Nothing to be done" in result.stdout + result.stderr  # the README's last command
    copy = pipeline_repo.parent / "forecastlab-copy"
    weights = "models/sine/w2/rnn1/seed7/weights.npz"
    assert (copy / weights).read_bytes() == (pipeline_repo / weights).read_bytes()
    assert "Running stage" not in run(["dvc", "repro"], copy).stdout


def test_the_findings_page_is_generated_from_the_committed_results():
    written = subprocess.run(
        [sys.executable, "-m", "forecastlab.findings"], capture_output=True, text=True, check=True
    ).stdout
    assert (REPO / "docs/findings.md").read_text() == written, (
        "stale: python -m forecastlab.findings > docs/findings.md"
    )


def test_every_link_of_the_documentation_leads_to_a_file():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bench/README.md"]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links {target}, which is missing"
    assert len(README.splitlines()) <= 250  # a README, not a manual: the rest is in docs/
