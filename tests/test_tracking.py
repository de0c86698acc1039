import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from forecastlab import tracking
from forecastlab.tracking import (
    StoreError,
    check_server,
    ensure_run,
    failing_run,
    finish_run,
    flatten,
    init_store,
    is_server,
    log_history,
    log_results,
    log_window_datasets,
    runs_table_url,
    start_run,
    supersede_runs,
    tracking_uri,
)
from tests.conftest import REPO, free_port


def test_tracking_uri_defaults_to_an_absolute_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(tmp_path) == "http://127.0.0.1:5000"


def test_flatten_nests_with_dots():
    assert flatten({"a": 1, "m": {"units": 2, "o": {"lr": 0.1}}}) == {
        "a": "1",
        "m.units": "2",
        "m.o.lr": "0.1",
    }


def test_a_run_receives_params_history_results_and_artifacts(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    ids = init_store(uri, ["sine"])
    assert init_store(uri, ["sine"]) == ids  # idempotent
    experiment = MlflowClient(uri).get_experiment(ids["sine"])
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    view = json.loads(experiment.tags["mlflow.sharedViewState.forecastlab"])
    assert "metrics.`stateless_mse`" in view["selectedColumns"]
    assert runs_table_url("http://127.0.0.1:5000/", ids["sine"]) == (
        f"http://127.0.0.1:5000/#/experiments/{ids['sine']}/runs"
        "?viewStateShareKey=forecastlab&workflowType=machine_learning"
    )
    run_id = start_run(
        uri, "sine", "sine/w2/rnn1", {"window": 2, "model": {"units": 1}}, {"git_commit": "abc"}
    )
    history = {"loss": [float(i) for i in range(1500)], "val_loss": [0.5] * 1500}
    log_history(uri, run_id, history)
    artifact = tmp_path / "weights.npz"
    artifact.write_bytes(b"123")
    log_results(
        uri, run_id, {"stateless_mse": 0.25}, tags={"verified": "true"}, artifacts=[artifact]
    )
    finish_run(uri, run_id)

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.run_name == "sine/w2/rnn1" and run.info.status == "FINISHED"
    assert run.data.params == {"window": "2", "model.units": "1"}
    assert run.data.tags["git_commit"] == "abc" and run.data.tags["verified"] == "true"
    assert run.data.metrics["stateless_mse"] == 0.25
    losses = client.get_metric_history(run_id, "loss")
    assert sorted(m.step for m in losses) == list(range(1500))
    assert [a.path for a in client.list_artifacts(run_id)] == ["weights.npz"]


def test_each_part_of_the_windows_is_a_dataset_input_with_its_digest(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    run_id = start_run(uri, "sine", "sine/w2/rnn1", {}, {})
    rng = np.random.default_rng(0)
    windows = {
        f"{part}_{kind}": rng.normal(size=(n, 2, 1)).astype("float32")
        for part, n in (("train", 6), ("test", 3))
        for kind in ("inputs", "targets_next", "targets_shifted")
    }
    log_window_datasets(uri, run_id, windows, "sine/w2", "data/windows/sine/w2.npz")
    inputs = MlflowClient(uri).get_run(run_id).inputs.dataset_inputs
    by_context = {
        {t.key: t.value for t in i.tags}["mlflow.data.context"]: i.dataset for i in inputs
    }
    assert set(by_context) == {"training", "test"}
    assert by_context["training"].name == "sine/w2/train"
    assert by_context["training"].digest != by_context["test"].digest
    assert '"features_shape": [6, 2, 1]' in by_context["training"].profile


def test_a_run_missing_from_this_store_is_replaced_once(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    existing = start_run(uri, "sine", "sine/w2/rnn1", {}, {})
    assert ensure_run(uri, "sine/w2/rnn1", existing) == existing
    stranger = "0123456789abcdef0123456789abcdef"  # trained where another store was
    replacement = ensure_run(uri, "sine/w5/rnn1", stranger)
    assert replacement != stranger
    assert ensure_run(uri, "sine/w5/rnn1", stranger) == replacement  # evaluate, then verify
    run = MlflowClient(uri).get_run(replacement)
    assert run.info.run_name == "sine/w5/rnn1" and run.data.tags["trained_in_run"] == stranger


def test_a_failing_job_closes_its_run_as_failed_and_a_retry_resumes_it(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    run_id = start_run(uri, "sine", "sine/w2/rnn1", {}, {})
    client = MlflowClient(uri)
    with pytest.raises(ValueError), failing_run(uri, run_id):
        raise ValueError("bad weights")
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["mlflow.note.content"] == "Failed: ValueError: bad weights"
    with failing_run(uri, run_id):  # the job's next attempt (evaluate, verify) resumes it
        assert client.get_run(run_id).info.status == "RUNNING"
    assert "mlflow.note.content" not in client.get_run(run_id).data.tags
    with pytest.raises(SystemExit) as stopped, failing_run(uri, run_id):
        os.kill(os.getpid(), signal.SIGTERM)  # what a cluster's time limit sends first
    assert stopped.value.code == 128 + signal.SIGTERM
    assert client.get_run(run_id).info.status == "FAILED"


def test_a_rerun_supersedes_the_runs_its_killed_attempts_left_running(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    here, there = {"checkout": "/work/a"}, {"checkout": "/work/b"}
    killed = [start_run(uri, "sine", "sine/w2/rnn1", {}, here) for _ in range(2)]
    finished = start_run(uri, "sine", "sine/w2/rnn1", {}, here)
    finish_run(uri, finished)
    elsewhere = start_run(uri, "sine", "sine/w2/rnn1", {}, there)  # another clone, running
    other = start_run(uri, "sine", "sine/w5/rnn1", {}, here)  # another model, running
    rerun = start_run(uri, "sine", "sine/w2/rnn1", {}, here)
    assert sorted(supersede_runs(uri, rerun)) == sorted(killed)
    client = MlflowClient(uri)
    for run_id in killed:
        run = client.get_run(run_id)
        assert run.info.status == "FAILED" and run.data.tags["superseded_by"] == rerun
        assert run.data.tags["mlflow.note.content"] == (
            f"Superseded by run {rerun}: the job of this run ended without closing it "
            "(killed), and its rerun logs there."
        )
    assert client.get_run(finished).info.status == "FINISHED"
    assert [client.get_run(r).info.status for r in (elsewhere, other, rerun)] == ["RUNNING"] * 3


LOGGER = """
import sys
from forecastlab.tracking import finish_run, log_history, log_results, start_run
uri, index = sys.argv[1], int(sys.argv[2])
run_id = start_run(uri, "stress", f"stress/{index}", {"index": index}, {"worker": str(index)})
log_history(uri, run_id, {"loss": [index + step / 1000 for step in range(1000)]})
log_results(uri, run_id, {"final": float(index)})
finish_run(uri, run_id)
"""


def test_sixteen_processes_log_to_one_sqlite_store_without_loss(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["stress"])  # the serial step the workflow runs first
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", LOGGER, uri, str(i)], stderr=subprocess.PIPE, text=True
        )
        for i in range(16)
    ]
    failures = [(i, w.communicate()[1]) for i, w in enumerate(workers) if w.wait() != 0]
    assert failures == []

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("stress")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert sorted(r.info.run_name for r in runs) == sorted(f"stress/{i}" for i in range(16))
    for run in runs:
        index = int(run.data.tags["worker"])
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(1000))  # none lost, none twice
        assert {m.value for m in history} == {index + step / 1000 for step in range(1000)}
        assert run.info.status == "FINISHED" and run.data.metrics["final"] == index


DATASET_LOGGER = """
import sys, time
import numpy as np
from forecastlab.tracking import log_window_datasets, start_run
uri, index, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
run_id = start_run(uri, "sine", f"sine/w2/arch{index}", {}, {})
windows = {f"{part}_{kind}": np.full((4, 2, 1), i, "float32")
           for i, part in enumerate(("train", "test")) for kind in ("inputs", "targets_next")}
time.sleep(max(0.0, start - time.time()))  # every worker logs the same windows at once
log_window_datasets(uri, run_id, windows, "sine/w2", "data/windows/sine/w2.npz")
"""


def test_models_of_one_window_log_its_datasets_at_the_same_time(tmp_path):
    # Every architecture of a window logs the same datasets; MLflow's SQLite store looks
    # for an existing dataset, then inserts it, so simultaneous jobs race on its key.
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    start = time.time() + 12  # after every worker has imported MLflow and started its run
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", DATASET_LOGGER, uri, str(i), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    failures = [(i, w.communicate()[1][-2000:]) for i, w in enumerate(workers) if w.wait() != 0]
    assert failures == []
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("sine").experiment_id])
    assert len(runs) == 6
    for run in runs:
        names = sorted(i.dataset.name for i in run.inputs.dataset_inputs)
        assert names == ["sine/w2/test", "sine/w2/train"], run.info.run_name
    digests = {(i.dataset.name, i.dataset.digest) for r in runs for i in r.inputs.dataset_inputs}
    assert len(digests) == 2  # one dataset each, shared by every run


class Health(http.server.BaseHTTPRequestHandler):
    """Answers /health like MLflow's server, with the status the server was given."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(self.server.status if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_tracking_server_that_answers_passes_the_check(health_server):
    uri = f"http://127.0.0.1:{health_server.server_port}"
    assert is_server(uri) and is_server("https://mlflow.example.org")
    assert not is_server("sqlite:///mlflow.db")
    check_server(uri)
    check_server(uri + "/")


def test_a_stopped_tracking_server_fails_the_check_at_once_naming_the_uri():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(RuntimeError) as error:
        check_server(uri, timeout=2)
    assert time.monotonic() - started < 2
    assert str(error.value) == (
        f"MLflow tracking server {uri} (MLFLOW_TRACKING_URI) does not answer: "
        f"GET {uri}/health gave [Errno 111] Connection refused. Start it (README: Running "
        "on a SLURM cluster) or point MLFLOW_TRACKING_URI at one that runs."
    )


def test_an_unhealthy_tracking_server_fails_the_check(health_server):
    health_server.status = 503
    uri = f"http://127.0.0.1:{health_server.server_port}"
    with pytest.raises(RuntimeError, match=f"{uri}/health gave HTTP 503"):
        check_server(uri)


def init_tracking(tmp_path, uri, *args):
    return subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/init_tracking.py"), "sine", *args],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
    )


def test_init_tracking_stops_on_a_stopped_server_and_on_sqlite_for_cluster_jobs(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    result = init_tracking(tmp_path, uri)
    assert result.returncode == 1
    assert f"init_tracking: MLflow tracking server {uri} (MLFLOW_TRACKING_URI) does not" in (
        result.stderr
    )
    sqlite = f"sqlite:///{tmp_path}/mlflow.db"
    result = init_tracking(tmp_path, sqlite, "--require-server")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"init_tracking: MLflow store {sqlite} is a local file, which jobs on several nodes "
        "cannot share safely: set MLFLOW_TRACKING_URI to a tracking server (http://...)"
    )
    assert not (tmp_path / "mlflow.db").exists()
    assert init_tracking(tmp_path, sqlite).returncode == 0
    assert (tmp_path / "mlflow.db").exists()


def hold_exclusive(path, seconds: float) -> threading.Thread:
    """A thread that holds `path`'s SQLite database with BEGIN EXCLUSIVE for `seconds`
    (as another process writing would), started once the lock is taken."""
    taken = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        taken.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def test_a_locked_store_is_waited_for_and_one_locked_too_long_is_named(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    ids = init_store(uri, ["sine"])
    holder = hold_exclusive(tmp_path / "mlflow.db", 8.0)  # past sqlite3's 5 s default
    started = time.monotonic()
    run_id = start_run(uri, "sine", "sine/w2/rnn1/seed7", {"units": 1}, {})
    assert time.monotonic() - started > 7.0
    holder.join()
    assert MlflowClient(uri).get_run(run_id).info.experiment_id == ids["sine"]

    monkeypatch.setattr(tracking, "STORE_WAIT", 2.0)
    holder = hold_exclusive(tmp_path / "mlflow.db", 6.0)
    with pytest.raises(StoreError) as error:
        finish_run(uri, run_id)
    holder.join()
    assert str(error.value) == (
        f"error: MLflow store {tmp_path}/mlflow.db stayed locked for 2 s: another process "
        "holds it (a long write from `mlflow ui`, a backup); end it and rerun"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"name,value\n1,2\n", "file is not a database"),
        ("store", "database disk image is malformed"),  # truncated to its 100-byte header
    ],
)
def test_a_store_that_is_not_sqlite_is_named_before_anything_is_logged(tmp_path, content, problem):
    store = tmp_path / "mlflow.db"
    if content == "store":
        init_store(f"sqlite:///{tmp_path}/whole.db", ["sine"])
        content = (tmp_path / "whole.db").read_bytes()[:100]
    store.write_bytes(content)
    with pytest.raises(StoreError) as error:
        init_store(f"sqlite:///{store}", ["sine"])
    assert str(error.value) == (
        f"error: MLflow store {store} is not a usable SQLite database ({problem}): move it "
        "aside to start a new store, or set MLFLOW_TRACKING_URI to another"
    )
    assert store.read_bytes() == content
