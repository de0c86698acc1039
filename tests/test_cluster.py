"""The pipeline on a real SLURM cluster (one node on 127.0.0.1) with MLflow on PostgreSQL.

Needs root on Debian: tests/cluster.py installs slurm-wlm, munge and postgresql with
apt-get and starts the daemons. The README's "Running on a SLURM cluster" commands run
as written, with free ports in place of the README's 5432 and 5000.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from datetime import datetime

import pytest

from tests.cluster import PARTITION, Cluster, single_node_cluster
from tests.conftest import BIN, free_port, make_pipeline_copy, run, tiny_params, wait_for
from tests.test_readme import commands_under

pytestmark = pytest.mark.slow

# Every job of cluster_params() but the target `all`: 4 acquire, 4 split, 6 window,
# 2 train (and evaluate), 2 verify, 1 study report, 1 summary, 1 computations report,
# 1 index report, 1 MLflow parent runs (track_models).
TINY_JOBS = 23


def cluster_params() -> dict:
    """The tiny params with one trained architecture, sine's rnn1: every phase of the
    pipeline in few jobs, since each SLURM job costs seconds of latency."""
    params = tiny_params()
    for name, study in params["studies"].items():
        study["architectures"] = ["rnn1"] if name == "sine" else []
        study["models"] = {arch: study["models"][arch] for arch in study["architectures"]}
    del params["studies"]["sine"]["models"]["rnn1"]["seeds"]
    return params


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """cluster_params() run locally (MLflow on SQLite), to compare the cluster's with."""
    repo = make_pipeline_copy(tmp_path_factory.mktemp("local") / "repo", cluster_params())
    run(["snakemake", "--cores", "2"], repo)
    return repo


@pytest.fixture(scope="module")
def cluster():
    with single_node_cluster() as running:
        yield running


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment with the venv first on PATH, as after `source .venv/...`."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def readme_commands(pg_port: int, mlflow_port: int) -> list[str]:
    commands = commands_under("Running on a SLURM cluster")
    text = "\n".join(commands)
    assert "5432" in text and ":5000" in text, "the README's ports changed: update this test"
    return [c.replace("5432", str(pg_port)).replace("5000", str(mlflow_port)) for c in commands]


def numbers(value, path=""):
    """Every numeric leaf of a JSON value, keyed by its path."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in numbers(item, f"{path}.{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in numbers(item, f"{path}[{i}]").items()
        }
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {}
    return {path: float(value)}


def stamps(output: str) -> dict[str, dict[str, float]]:
    """Snakemake job id -> when Snakemake submitted it and saw it finish (epoch seconds)."""
    events: dict[str, dict[str, float]] = {}
    now = None
    for line in output.splitlines():
        if match := re.fullmatch(r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", line.strip()):
            now = datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
        elif match := re.match(r"Job (\d+) has been submitted with SLURM jobid (\d+)", line):
            events.setdefault(match.group(1), {})["slurm"] = int(match.group(2))
            events[match.group(1)]["submitted"] = now
        elif match := re.match(r"Finished jobid: (\d+)", line):
            events.setdefault(match.group(1), {})["seen_done"] = now
    return events


def slurm_times(cluster: Cluster) -> dict[int, tuple[float, float]]:
    """SLURM job id -> (start, end) epoch seconds, from slurmctld (squeue, MinJobAge)."""
    result = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i %S %e"], capture_output=True, text=True, check=True
    )
    times = {}
    for line in result.stdout.splitlines():
        job, start, end = line.split()
        parse = lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%S").timestamp()  # noqa: E731
        times[int(job)] = (parse(start), parse(end))
    return times


def test_readme_cluster_commands_run_every_job_through_slurm_and_match_a_local_run(
    cluster, local_run, tmp_path
):
    repo = make_pipeline_copy(tmp_path / "repo", cluster_params())
    mlflow_port = free_port()
    env = environment()
    known_jobs = set(cluster.jobs())
    for command in readme_commands(cluster.pg_port, mlflow_port):
        if command.startswith("export "):
            env.update(word.split("=", 1) for word in shlex.split(command)[1:])
        elif command.endswith("&"):
            server = cluster.start(
                "mlflow-server", ["bash", "-c", f"exec {command[:-1]}"], cwd=repo, env=env
            )
            wait_for(f"http://127.0.0.1:{mlflow_port}/health", server, seconds=180)
        else:
            started = time.monotonic()
            result = subprocess.run(
                ["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True
            )
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{command} failed:\n{output}"
            elapsed = time.monotonic() - started
    assert env["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{mlflow_port}"
    assert env["SBATCH_PARTITION"] == PARTITION

    # Every job but the target ran as a SLURM job, and SLURM says each completed. The job
    # records are in the run's Snakemake log file (the terminal has a line per job).
    logs = [p.read_text() for p in sorted(repo.glob(".snakemake/log/*.snakemake.log"))]
    (records,) = [log for log in logs if "has been submitted with SLURM jobid" in log]
    assert re.findall(r"^localrule (\w+):", records, re.M) == ["all"]
    events = stamps(records)
    submitted = {e["slurm"] for e in events.values() if "slurm" in e}
    assert len(submitted) == TINY_JOBS
    states = cluster.jobs()
    assert {str(job) for job in submitted} == set(states) - known_jobs
    assert {states[str(job)] for job in submitted} == {"COMPLETED"}

    # The same results as the local run of the same params (SQLite, no SLURM).
    local_evals = sorted(local_run.glob("results/eval/**/eval.json"))
    assert [p.relative_to(local_run) for p in local_evals] == [
        p.relative_to(repo) for p in sorted(repo.glob("results/eval/**/eval.json"))
    ]
    assert len(local_evals) == 2
    for local in local_evals:
        cluster_eval = numbers(json.loads((repo / local.relative_to(local_run)).read_text()))
        local_eval = numbers(json.loads(local.read_text()))
        assert cluster_eval.keys() == local_eval.keys() and local_eval
        for key, value in local_eval.items():
            assert cluster_eval[key] == pytest.approx(value, abs=1e-6, rel=0), key
    for local in sorted(local_run.glob("results/verify/**/verify.json")):
        on_cluster = json.loads((repo / local.relative_to(local_run)).read_text())
        here = json.loads(local.read_text())
        assert on_cluster["passed"] is here["passed"] is True
        assert {m: v["passed"] for m, v in on_cluster["modes"].items()} == {
            m: v["passed"] for m, v in here["modes"].items()
        }
    assert (repo / "reports/index.html").exists() and not (repo / "mlflow.db").exists()

    # Every run is in the server's PostgreSQL store, finished, with its metrics.
    runs = cluster.psql(
        "SELECT r.name, r.status, count(m.key) FROM runs r"
        " JOIN experiments e ON e.experiment_id = r.experiment_id"
        " LEFT JOIN latest_metrics m ON m.run_uuid = r.run_uuid"
        " WHERE e.name = 'sine' GROUP BY r.name, r.status ORDER BY r.name"
    )
    assert [row[:2] for row in runs] == [
        ["sine/w2/rnn1", "FINISHED"],  # the parent runs
        ["sine/w2/rnn1/seed7", "FINISHED"],
        ["sine/w5/rnn1", "FINISHED"],
        ["sine/w5/rnn1/seed7", "FINISHED"],
    ]
    assert all(int(row[2]) >= 5 for row in runs)  # loss, val_loss, both modes' metrics, ...
    tags = cluster.psql("SELECT value FROM tags WHERE key = 'verified'")
    assert tags == [["true"]] * 4

    # Where the time goes: queueing after submission, and polling after a job ended.
    times = slurm_times(cluster)
    done = [e for e in events.values() if "slurm" in e]
    queued = [times[e["slurm"]][0] - e["submitted"] for e in done]
    noticed = [e["seen_done"] - times[e["slurm"]][1] for e in done]
    ran = [times[e["slurm"]][1] - times[e["slurm"]][0] for e in done]
    print(
        f"\nSLURM run of the tiny params: {elapsed:.0f} s wall, {len(done)} jobs;"
        f" in SLURM {sum(ran):.0f} s (mean {sum(ran) / len(ran):.1f} s per job);"
        f" submit->start mean {sum(queued) / len(queued):.1f} s;"
        f" end->noticed mean {sum(noticed) / len(noticed):.1f} s, max {max(noticed):.0f} s"
    )


def cluster_run(repo, tracking_uri: str) -> tuple[int, str]:
    """`snakemake --profile profiles/slurm` in `repo` logging to `tracking_uri`: its exit
    status and output."""
    env = environment(
        MLFLOW_TRACKING_URI=tracking_uri, SBATCH_PARTITION=PARTITION, SBATCH_ACCOUNT=""
    )
    result = subprocess.run(
        ["snakemake", "--profile", "profiles/slurm"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def test_a_stopped_tracking_server_stops_a_cluster_run_before_any_job(cluster, tmp_path):
    repo = make_pipeline_copy(tmp_path / "repo", cluster_params())
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens: the server is stopped
    known_jobs = cluster.jobs()
    started = time.monotonic()
    returncode, output = cluster_run(repo, uri)
    elapsed = time.monotonic() - started
    assert returncode != 0
    assert f"MLflow tracking server {uri} (MLFLOW_TRACKING_URI) does not answer" in output
    assert elapsed < 30, f"took {elapsed:.0f} s to fail"
    assert cluster.jobs() == known_jobs  # nothing was submitted
    assert "has been submitted with SLURM jobid" not in output
    assert not (repo / "data/raw").exists()


def test_the_cluster_profile_refuses_a_local_mlflow_store(cluster, tmp_path):
    repo = make_pipeline_copy(tmp_path / "repo", cluster_params())
    known_jobs = cluster.jobs()
    returncode, output = cluster_run(repo, f"sqlite:///{repo}/mlflow.db")
    assert returncode != 0
    assert f"MLflow store sqlite:///{repo}/mlflow.db is a local file" in output
    assert cluster.jobs() == known_jobs
