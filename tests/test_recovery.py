"""After a failed or killed job, the next run rebuilds what is missing or fails naming it.

Real Snakemake, DVC and MLflow on a small copy of the pipeline (tiny_params' sine study
with two models at one window, and its data-only csv study), built once with `dvc repro`.
Each test breaks it one way and leaves it whole again, in file order.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time

import psutil
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import command_env, make_pipeline_copy, run, tiny_params

pytestmark = pytest.mark.slow

MODEL = "models/sine/w2/rnn1/seed7/model.keras"
VENDORED = "data/external/monthly-sunspots.csv"


def small_params() -> dict:
    params = tiny_params()
    sine, spots = params["studies"]["sine"], params["studies"]["spots"]
    sine["windows"]["lengths"] = [2]
    sine["architectures"] = ["naive", "rnn1"]
    del sine["models"]["stateful_rnn1"]
    del sine["models"]["rnn1"]["seeds"]  # one seed, 7: one job to kill
    spots["windows"]["lengths"] = [12]
    return params | {"studies": {"sine": sine, "spots": spots}}


def edit_params(repo, change) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    change(params["studies"])
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def snakemake(repo, *args: str) -> subprocess.CompletedProcess:
    return run(["snakemake", "--cores", "2", *args], repo, check=False)


def assert_nothing_to_do(repo) -> None:
    dry_run = run(["snakemake", "-n"], repo)
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr
    assert "up to date" in run(["dvc", "status"], repo).stdout


def locked(repo, stage: str) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]


def current_studies(repo) -> dict:
    return yaml.safe_load((repo / "params.yaml").read_text())["studies"]


def rnn1_runs(repo) -> list:
    client = MlflowClient(f"sqlite:///{repo}/mlflow.db")
    experiment = client.get_experiment_by_name("sine").experiment_id
    runs = client.search_runs([experiment], "attributes.run_name = 'sine/w2/rnn1/seed7'")
    return sorted(runs, key=lambda r: r.info.start_time)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_pipeline_copy(tmp_path_factory.mktemp("recovery") / "repo", small_params())
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "config", "core.analytics", "false"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "small pipeline"], repo)
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)
    return repo


def test_a_data_file_made_invalid_fails_every_run_naming_its_line(repo):
    vendored = repo / VENDORED
    good, lock = vendored.read_bytes(), (repo / "dvc.lock").read_text()
    bad = good.replace(b'"1749-03",70.0', b'"1749-03",n/a')
    vendored.write_bytes(bad)

    def sha256(payload: bytes):
        return lambda studies: studies["spots"]["source"].update(
            sha256=hashlib.sha256(payload).hexdigest()
        )

    edit_params(repo, sha256(bad))
    message = f"error: {VENDORED}:4: value 'n/a' is not a number"
    # The first run's acquire job fails and Snakemake removes data/raw/spots.csv; the
    # second must not then find the old prepared data and windows current.
    for _ in range(2):
        result = snakemake(repo)
        assert result.returncode != 0 and message in result.stdout + result.stderr
    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr
    assert (repo / "dvc.lock").read_text() == lock

    vendored.write_bytes(good)
    edit_params(repo, sha256(good))
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)


def test_a_truncated_model_fails_verification_naming_it_and_is_retrained(repo):
    model = repo / MODEL
    model.write_bytes(model.read_bytes()[:1000])  # newer than its verification: rerun
    message = (
        f"error: {MODEL}: corrupt or truncated model file (File is not a zip file); "
        "removed it, the next run retrains sine/w2/rnn1/seed7"
    )
    result = snakemake(repo)
    assert result.returncode != 0 and message in result.stdout + result.stderr
    assert not (repo / "results/verify/sine/w2/rnn1/seed7/verify.json").exists()
    assert not model.exists()
    # The verification closed the model's MLflow run, saying why.
    failed = rnn1_runs(repo)[-1]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["mlflow.note.content"] == f"Failed: SystemExit: {message}"
    assert "train" in run(["dvc", "status"], repo).stdout

    assert snakemake(repo).returncode == 0  # retrains the model, nothing to delete by hand
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)


def test_a_model_file_altered_after_training_fails_verification_and_is_retrained(repo):
    import keras

    from forecastlab.models import load_model

    outputs = ("results/eval/sine/w2/rnn1/seed7/eval.json", "models/sine/w2/rnn1/seed7/weights.npz")
    before = {path: (repo / path).read_bytes() for path in outputs}
    summary = (repo / "results/summary.csv").read_bytes()
    altered = load_model(repo / MODEL)
    kernel = altered.get_layer("RNN").weights[0]
    kernel.assign(kernel.numpy() + 0.05)
    keras.saving.save_model(altered, repo / MODEL)  # a valid file, one weight changed
    result = snakemake(repo)
    message = (
        f"error: {MODEL}: weight RNN/kernel differs from the hand-verified weights "
        "(max |difference| 0.05); removed it, the next run retrains sine/w2/rnn1/seed7"
    )
    assert result.returncode != 0 and message in result.stdout + result.stderr
    assert not (repo / MODEL).exists()

    assert snakemake(repo).returncode == 0
    # Retrained from its seed: the same weights and metrics, bitwise.
    assert {path: (repo / path).read_bytes() for path in outputs} == before
    assert (repo / "results/summary.csv").read_bytes() == summary
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)


def test_a_store_locked_during_a_run_is_waited_for_and_changes_nothing(repo):
    from tests.test_tracking import hold_exclusive

    results = {p: p.read_bytes() for p in sorted((repo / "results").rglob("*")) if p.is_file()}
    (repo / MODEL).unlink()  # retrain one model: every job after it logs to the store
    log = repo / "logs/train/sine/w2/rnn1.log"
    log.unlink()
    pipeline = subprocess.Popen(
        ["snakemake", "--cores", "2"],
        cwd=repo,
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not log.exists():  # the training job has started
        assert pipeline.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    hold_exclusive(repo / "mlflow.db", 10.0).join()
    terminal = pipeline.communicate(timeout=600)[0]
    assert pipeline.returncode == 0, terminal
    assert {p: p.read_bytes() for p in results} == results  # bitwise an undisturbed run's
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)


def test_a_store_that_is_not_sqlite_stops_the_run_before_any_job(repo):
    store = repo / "mlflow.db"
    whole = store.read_bytes()
    store.write_text("not a database\n")
    (repo / MODEL).unlink()
    log = repo / "logs/train/sine/w2/rnn1.log"
    log.unlink()
    try:
        result = snakemake(repo)
        message = (
            f"error: MLflow store {store} is not a usable SQLite database (file is not a "
            "database): move it aside to start a new store, or set MLFLOW_TRACKING_URI to "
            "another"
        )
        assert result.returncode != 0 and message in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert not (repo / MODEL).exists() and not log.exists()  # no job ran
    finally:
        store.write_bytes(whole)
    assert snakemake(repo).returncode == 0
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)


def test_a_training_job_killed_in_a_rerun_is_redone_and_its_run_closed(repo):
    edit_params(repo, lambda studies: studies["sine"]["models"]["rnn1"].update(epochs=1000))
    locked_training = locked(repo, "train")
    log = repo / "logs/train/sine/w2/rnn1.log"
    log.unlink()  # the last training's, until the rerun starts
    repro = subprocess.Popen(
        ["dvc", "repro"], cwd=repo, env=command_env(), stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while not (log.exists() and "MLflow run" in log.read_text()):
            assert repro.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        # The process that trains: the fork server's child that writes the job's log
        # (the job's own command only waits for it).
        (job,) = [
            p
            for p in psutil.Process(repro.pid).children(recursive=True)
            if "--serve" in p.cmdline() and str(log) in {f.path for f in p.open_files()}
        ]
        job.kill()  # SIGKILL, as the kernel's out-of-memory killer sends it
        assert repro.wait(timeout=300) != 0
    finally:
        if repro.poll() is None:
            for process in psutil.Process(repro.pid).children(recursive=True):
                process.kill()
            repro.kill()
    # The data stage, with nothing to redo, is recorded with the new params; training is not.
    assert locked(repo, "data")["params"] == {"params.yaml": {"studies": current_studies(repo)}}
    assert locked(repo, "train") == locked_training
    assert not (repo / MODEL).exists()
    (killed,) = [r for r in rnn1_runs(repo) if r.info.status == "RUNNING"]

    dry_run = run(["snakemake", "-n"], repo).stdout
    assert "train_model" in dry_run and "Nothing to be done" not in dry_run
    assert snakemake(repo).returncode == 0
    rerun_id = json.loads((repo / "models/sine/w2/rnn1/seed7/history.json").read_text())["run_id"]
    runs = {r.info.run_id: r for r in rnn1_runs(repo)}
    assert runs[rerun_id].info.status == "FINISHED"
    assert runs[killed.info.run_id].info.status == "FAILED"
    assert runs[killed.info.run_id].data.tags["superseded_by"] == rerun_id
    assert "RUNNING" not in {r.info.status for r in runs.values()}
    run(["dvc", "repro"], repo)
    assert_nothing_to_do(repo)
