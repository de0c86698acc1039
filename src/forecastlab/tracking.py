"""MLflow logging: one run per (study, window, architecture), written by several jobs.

The training job creates the run and records its id next to the model; evaluation and
verification append to that run. The store and experiments are created once, serially,
before parallel jobs start (`init_store`), because concurrent first use of a SQLite
store races on its schema migrations.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy.exc import OperationalError

from forecastlab.numerics import fingerprint, fingerprint_id

log = logging.getLogger(__name__)

# MLflow refuses batches larger than this.
_BATCH = 1000
# The experiment kind MLflow 3 records for model training; its 3.17 UI still opens an
# experiment on the GenAI overview unless its own switch says otherwise (runs_table_url).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# The runs table with its key columns, as a view MLflow's UI loads from an experiment tag
# named after the view: open an experiment with `?viewStateShareKey=forecastlab` (see
# runs_table_url). Columns are named as the UI names them: kind.`key`.
RUNS_VIEW = "forecastlab"
RUNS_VIEW_COLUMNS = [
    "attributes.`Dataset`",
    "params.`architecture`",
    "params.`window`",
    "metrics.`val_loss`",
    "metrics.`stateless_mse`",
    "metrics.`stateful_mse`",
    "metrics.`stateful_to_stateless_mse`",
    "tags.`verified`",
]


def tracking_uri(root: str | Path = ".") -> str:
    """MLFLOW_TRACKING_URI if set, else an absolute sqlite:///<root>/mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve()}/mlflow.db"


# How long a job waits, in all, for a SQLite store another process holds (`mlflow ui`
# writing, a backup, a `BEGIN EXCLUSIVE`): MLflow's sessions wait 20 s a statement
# (PRAGMA busy_timeout) and its engine's set-up sqlite3's default 5 s, then fail.
STORE_WAIT = 120.0


class StoreError(SystemExit):
    """The tracking store cannot be used: one line naming it and what to do. A SystemExit,
    as argparse's errors are, since no job could go on without it (no traceback)."""


def _store_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def _still_locked(uri: str) -> StoreError:
    return StoreError(
        f"error: MLflow store {_store_path(uri)} stayed locked for {STORE_WAIT:.0f} s: another "
        "process holds it (a long write from `mlflow ui`, a backup); end it and rerun"
    )


def check_store(uri: str) -> None:
    """Raise StoreError unless `uri`'s SQLite file, if there is one, is a readable SQLite
    database, waiting up to STORE_WAIT seconds while another process holds it."""
    path = _store_path(uri)
    if path is None or not path.exists():
        return  # a tracking server, or a store MLflow creates
    try:
        with closing(sqlite3.connect(path, timeout=STORE_WAIT)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        if "locked" in str(error):
            raise _still_locked(uri) from None
        raise StoreError(f"error: MLflow store {path} cannot be read ({error})") from None
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"error: MLflow store {path} is not a usable SQLite database ({error}): move it "
            "aside to start a new store, or set MLFLOW_TRACKING_URI to another"
        ) from None


class _PatientClient:
    """An MlflowClient whose every call waits for a locked SQLite store, retrying for up
    to STORE_WAIT seconds in all, then ends the job with a StoreError. A call that failed
    on the lock was rolled back, so retrying it writes nothing twice."""

    def __init__(self, uri: str) -> None:
        check_store(uri)
        self._uri = uri
        self._client = self._patiently(MlflowClient, uri)

    def _patiently(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + STORE_WAIT
        while True:
            try:
                return call(*args, **kwargs)
            except (MlflowException, OperationalError) as error:
                if "database is locked" not in str(error):
                    raise
                if time.monotonic() > deadline:
                    raise _still_locked(self._uri) from None
                log.warning("MLflow store %s is locked; waiting", self._uri)
                time.sleep(1.0)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._patiently(attribute, *args, **kwargs)


def patient_client(uri: str) -> MlflowClient:
    """An MlflowClient for `uri` that waits for a locked store (see _PatientClient)."""
    return _PatientClient(uri)  # type: ignore[return-value]


def is_server(uri: str) -> bool:
    """Whether `uri` names a tracking server (http or https) rather than a local store."""
    return uri.startswith(("http://", "https://"))


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Raise RuntimeError, naming `uri`, unless the tracking server at `uri` answers its
    /health endpoint within `timeout` seconds.

    MLflow's own client retries a dead server for minutes; this answers in seconds, so a
    run stops before any job is submitted rather than when the first model has trained.
    """
    health = f"{uri.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        problem = str(getattr(error, "reason", error))
    raise RuntimeError(
        f"MLflow tracking server {uri} (MLFLOW_TRACKING_URI) does not answer: "
        f"GET {health} gave {problem}. Start it (README: Running on a SLURM cluster) "
        "or point MLFLOW_TRACKING_URI at one that runs."
    )


def _artifact_location(uri: str, name: str) -> str | None:
    """Next to a local SQLite store, artifacts go to <root>/mlartifacts/<experiment>."""
    if not uri.startswith("sqlite:///"):
        return None  # a tracking server decides
    root = Path(uri.removeprefix("sqlite:///")).parent
    return (root / "mlartifacts" / name).as_uri()


def init_store(uri: str, experiments: Iterable[str]) -> dict[str, str]:
    """Create the store (if new) and each experiment (if missing), tagged with
    EXPERIMENT_KIND and the runs table's view (RUNS_VIEW_COLUMNS); return name -> id."""
    client = patient_client(uri)
    ids = {}
    for name in experiments:
        found = client.get_experiment_by_name(name)
        ids[name] = (
            found.experiment_id
            if found
            else client.create_experiment(name, artifact_location=_artifact_location(uri, name))
        )
        tags = {
            **EXPERIMENT_KIND,
            f"mlflow.sharedViewState.{RUNS_VIEW}": json.dumps(
                {"selectedColumns": RUNS_VIEW_COLUMNS}
            ),
        }
        for key, value in tags.items():
            client.set_experiment_tag(ids[name], key, value)
    return ids


def runs_table_url(ui: str, experiment_id: str) -> str:
    """The address of an experiment's runs table with the key columns shown (MLflow 3's UI
    opens an experiment on its GenAI overview, and shows no metric column, otherwise)."""
    query = f"viewStateShareKey={RUNS_VIEW}&workflowType=machine_learning"
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{"model": {"units": 1}} -> {"model.units": "1"}: MLflow params are flat strings."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def environment_tags() -> dict[str, str]:
    """The fingerprint of this process's numerics as tags: env.<key>, and env.fingerprint
    (its id, as results/summary.csv's fingerprint column names it)."""
    values = fingerprint()
    return {f"env.{key}": value for key, value in values.items()} | {
        "env.fingerprint": fingerprint_id(values)
    }


def start_run(
    uri: str, experiment: str, run_name: str, params: Mapping[str, Any], tags: Mapping[str, str]
) -> str:
    """Create a run in `experiment` with flat params, `tags` and the environment's
    fingerprint (environment_tags); return its id."""
    client = patient_client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise RuntimeError(
            f"MLflow experiment {experiment!r} is missing from {uri}; "
            "the workflow creates it at start (workflow/scripts/init_tracking.py)"
        )
    all_tags = environment_tags() | dict(tags)
    run = client.create_run(found.experiment_id, run_name=run_name, tags=all_tags)
    flat = [Param(k, v) for k, v in flatten(params).items()]
    for start in range(0, len(flat), 100):
        client.log_batch(run.info.run_id, params=flat[start : start + 100])
    return run.info.run_id


def ensure_run(uri: str, name: str, run_id: str) -> str:
    """`run_id` if this store holds it, else a new run named `name` ("study/wL/arch").

    A model pulled with `dvc pull` into a fresh clone records a run of another store;
    its evaluation and verification then log to one new run of the same name, tagged
    with the original id, rather than fail.
    """
    client = patient_client(uri)
    try:
        client.get_run(run_id)
        return run_id
    except MlflowException:
        pass
    experiment = client.get_experiment_by_name(name.split("/")[0])
    if experiment is not None:
        found = client.search_runs(
            [experiment.experiment_id], f"tags.trained_in_run = '{run_id}'", max_results=1
        )
        if found:
            return found[0].info.run_id
    log.warning("MLflow run %s is not in %s: logging to a new run %s", run_id, uri, name)
    return start_run(uri, name.split("/")[0], name, {}, {"trained_in_run": run_id})


# How often a job tries to log its window datasets (see log_window_datasets).
_DATASET_ATTEMPTS = 5
# The parts of a windows file, as MLflow names a dataset's role in a run.
_CONTEXTS = {"train": "training", "validation": "validation", "test": "test"}


def log_window_datasets(
    uri: str, run_id: str, windows: Mapping[str, Any], name: str, source: str
) -> None:
    """Each part's windows (its inputs, and its targets by kind) as a dataset input of the
    run, named `name`/part, with MLflow's digest of the arrays and the part as context, so
    the UI's Dataset column and lineage show what the model was trained and scored on.

    windows as a windows file holds them: <part>_inputs (m, L, 1), <part>_targets_<kind>.
    """
    from mlflow.data import from_numpy
    from mlflow.entities import DatasetInput, InputTag

    datasets = []
    for part, context in _CONTEXTS.items():
        if f"{part}_inputs" not in windows:
            continue
        prefix = f"{part}_targets_"
        targets = {k.removeprefix(prefix): v for k, v in windows.items() if k.startswith(prefix)}
        with warnings.catch_warnings():
            # MLflow registers its local-file source twice and warns that a path matches
            # both; either is the same source.
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
            dataset = from_numpy(
                windows[f"{part}_inputs"], source=source, targets=targets, name=f"{name}/{part}"
            )
        tags = [InputTag("mlflow.data.context", context)]
        # MLflow's own log_input converts a dataset the same way, for the active run only.
        datasets.append(DatasetInput(dataset._to_mlflow_entity(), tags))
    client = patient_client(uri)
    for attempt in range(_DATASET_ATTEMPTS):
        try:
            client.log_inputs(run_id, datasets=datasets)
            return
        except MlflowException:
            # Every model of a window logs the same datasets, and MLflow's SQL store looks
            # for a dataset before it inserts one, without a lock: a job that loses the
            # race to insert it fails on the key, and finds it on the next attempt.
            if attempt == _DATASET_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def log_history(uri: str, run_id: str, history: Mapping[str, list[float]]) -> None:
    """Per-epoch metrics (step = epoch index), in batches of at most 1000 values."""
    now = int(time.time() * 1000)
    metrics = [
        Metric(key, float(value), now, step)
        for key, values in history.items()
        for step, value in enumerate(values)
    ]
    client = patient_client(uri)
    for start in range(0, len(metrics), _BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + _BATCH])


def log_results(
    uri: str,
    run_id: str,
    metrics: Mapping[str, float],
    tags: Mapping[str, str] | None = None,
    artifacts: Iterable[str | Path] = (),
) -> None:
    """Final metrics and tags in one batch, then artifact files."""
    now = int(time.time() * 1000)
    client = patient_client(uri)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
    )
    for path in artifacts:
        client.log_artifact(run_id, str(path))


def log_figures(uri: str, run_id: str, figures: Mapping[str, Any]) -> None:
    """Matplotlib figures as PNG artifacts, by file name, then close them."""
    import matplotlib.pyplot as plt

    client = patient_client(uri)
    for name, figure in figures.items():
        client.log_figure(run_id, figure, name)
        plt.close(figure)


def finish_run(uri: str, run_id: str) -> None:
    """Mark the run finished (the last job that writes to it calls this)."""
    patient_client(uri).set_terminated(run_id, "FINISHED")


def fail_run(uri: str, run_id: str, reason: str) -> None:
    """Mark the run FAILED, with `reason` as its description (shown in the MLflow UI)."""
    client = patient_client(uri)
    client.set_tag(run_id, "mlflow.note.content", reason)
    client.set_terminated(run_id, "FAILED")


@contextmanager
def failing_run(uri: str, run_id: str) -> Iterator[None]:
    """Mark the run FAILED if the block raises, exits or is interrupted (SIGINT, SIGTERM
    as a cluster's time limit sends it), then let the error go on.

    SIGKILL (an out-of-memory kill, `kill -9`) cannot be caught: the job's rerun
    supersedes that run instead (`supersede_runs`). A run that an earlier attempt of
    the same job left FAILED is RUNNING again while this attempt resumes it.
    """

    def terminate(signum: int, _frame: object) -> None:
        sys.exit(128 + signum)

    client = patient_client(uri)
    if client.get_run(run_id).info.status == "FAILED":
        client.update_run(run_id, status="RUNNING")
        client.delete_tag(run_id, "mlflow.note.content")
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except BaseException as error:
        fail_run(uri, run_id, f"Failed: {type(error).__name__}: {error}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def supersede_runs(uri: str, run_id: str) -> list[str]:
    """Mark FAILED the older runs of `run_id`'s name, experiment and checkout (its
    `checkout` tag) still RUNNING, tagged `superseded_by` it; return their ids.

    A job starts a new run only when it reruns, so an older run of that name still
    RUNNING belonged to a job that was killed before it could close it (see
    `failing_run`). Runs of other checkouts that log to the same server may be running
    now, and are left alone.
    """
    client = patient_client(uri)
    run = client.get_run(run_id)
    name = run.info.run_name.replace("'", "\\'")
    query = f"attributes.run_name = '{name}' AND attributes.status = 'RUNNING'"
    if "checkout" in run.data.tags:
        query += f" AND tags.checkout = '{run.data.tags['checkout']}'"
    stale = [
        found.info.run_id
        for found in client.search_runs([run.info.experiment_id], query, max_results=1000)
        if found.info.run_id != run_id and found.info.start_time <= run.info.start_time
    ]
    for old in stale:
        client.set_tag(old, "superseded_by", run_id)
        fail_run(
            uri,
            old,
            f"Superseded by run {run_id}: the job of this run ended without closing it "
            "(killed), and its rerun logs there.",
        )
    return stale


def nest_runs(
    uri: str,
    experiment: str,
    name: str,
    children: Iterable[str],
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
) -> str:
    """The parent run of one model's seed runs (MLflow's nesting: each child tagged
    mlflow.parentRunId, so the UI folds them under it), holding the aggregate `metrics`
    and `tags`; return its id.

    The parent of this name and checkout is reused when a rerun finds one (its metrics
    then get new values, its tags are overwritten), so a store keeps one parent per
    model. A child id this store lacks (a model trained in another store and pulled with
    DVC) is found by its `trained_in_run` tag, or left out with a warning.
    """
    client = patient_client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise RuntimeError(f"MLflow experiment {experiment!r} is missing from {uri}")
    checkout = str(Path.cwd())
    quoted = name.replace("'", "\\'")
    query = f"tags.parent_of = '{quoted}' AND tags.checkout = '{checkout}'"
    existing = client.search_runs([found.experiment_id], query, max_results=1)
    all_tags = {**environment_tags(), **tags, "parent_of": name, "checkout": checkout}
    if existing:
        parent = existing[0].info.run_id
    else:
        parent = client.create_run(found.experiment_id, run_name=name, tags=all_tags).info.run_id
        client.log_batch(parent, params=[Param(k, v) for k, v in flatten(params).items()])
    now = int(time.time() * 1000)
    values = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
    labels = [RunTag(k, str(v)) for k, v in all_tags.items()]
    for start in range(0, max(len(values), 1), _BATCH):
        client.log_batch(
            parent, metrics=values[start : start + _BATCH], tags=labels if start == 0 else []
        )
    for child in children:
        here = _run_here(client, found.experiment_id, child)
        if here is None:
            log.warning("MLflow run %s of %s is not in %s: not nested", child, name, uri)
            continue
        client.set_tag(here, "mlflow.parentRunId", parent)
    client.set_terminated(parent, "FINISHED")
    return parent


def _run_here(client: MlflowClient, experiment_id: str, run_id: str) -> str | None:
    """`run_id` if the store holds it, else the run that logs for it (ensure_run)."""
    try:
        client.get_run(run_id)
        return run_id
    except MlflowException:
        found = client.search_runs(
            [experiment_id], f"tags.trained_in_run = '{run_id}'", max_results=1
        )
        return found[0].info.run_id if found else None
