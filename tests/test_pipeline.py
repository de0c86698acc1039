"""The real pipeline on tiny params: Snakemake, DVC in a git repo, MLflow on SQLite, papermill."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import make_pipeline_copy, run, tiny_params


def mlflow_runs(repo):
    client = MlflowClient(f"sqlite:///{repo}/mlflow.db")
    experiment = client.get_experiment_by_name("sine")
    return client, client.search_runs([experiment.experiment_id], max_results=1000)


def mtimes(repo, pattern):
    return {p: p.stat().st_mtime_ns for p in sorted(repo.glob(pattern))}


@pytest.mark.slow
def test_pipeline_end_to_end_with_dvc_and_mlflow(pipeline_copy):
    repo = pipeline_copy
    run(["dvc", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny pipeline"], repo)

    run(["snakemake", "--cores", "2"], repo)

    # Windows of every study at every length, with each study's cut and targets.
    windows = {
        p.relative_to(repo / "data/windows").as_posix() for p in repo.glob("data/windows/*/*.npz")
    }
    assert windows == {
        "sine/w2.npz",
        "sine/w5.npz",
        "walk/w20.npz",
        "spots/w12.npz",
        "spots/w24.npz",
        "book/w50.npz",
    }
    walk = np.load(repo / "data/windows/walk/w20.npz")
    assert walk["train_inputs"].shape == walk["train_targets_shifted"].shape == (10, 20, 1)
    book = np.load(repo / "data/windows/book/w50.npz")
    assert book["train_targets_shifted_horizon"].shape == (28, 50, 10)
    assert book["validation_inputs"].shape == (8, 50, 1) and book["test_inputs"].shape == (4, 50, 1)
    spots = np.load(repo / "data/prepared/spots.npz")
    assert spots["train"].min() == 0.0 and spots["train"].max() == 1.0  # fitted on train only
    assert (repo / "data/raw/book.npz").exists() and (repo / "data/raw/walk.csv").exists()

    # Every model verified, in both modes.
    for length in (2, 5):
        verify = json.loads((repo / f"results/verify/sine/w{length}/rnn1/verify.json").read_text())
        assert verify["passed"] and set(verify["modes"]) == {"stateless", "stateful"}
        assert all(m["max_abs_error"] <= 1e-5 for m in verify["modes"].values())

    # One finished MLflow run per window with history, metrics, tags and the weights file.
    client, runs = mlflow_runs(repo)
    assert sorted(r.info.run_name for r in runs) == ["sine/w2/rnn1", "sine/w5/rnn1"]
    for r in runs:
        assert r.info.status == "FINISHED"
        assert len(client.get_metric_history(r.info.run_id, "val_loss")) == 3
        assert {"stateless_mse", "stateful_mse", "verify_stateful_max_abs_error"} <= set(
            r.data.metrics
        )
        assert r.data.tags["verified"] == "true" and len(r.data.tags["git_commit"]) == 40
        assert r.data.params["model.epochs"] == "3"
        assert [a.path for a in client.list_artifacts(r.info.run_id)] == ["weights.npz"]

    # The report: the window x mode table and embedded figures, no code.
    html = (repo / "reports/sine.html").read_text()
    table = html[html.index("<table") : html.index("</table>")]
    assert "stateless MSE" in table and "stateful MSE" in table
    assert len(re.findall(r"<tr>\s*<td[^>]*>rnn1</td>", table)) == 2
    assert html.count("data:image/png;base64") >= 5
    assert "read_npz(" not in html

    # Nothing left to do for Snakemake, nothing retrained by DVC.
    assert (
        "Nothing to be done"
        in run(["snakemake", "-n"], repo).stdout + run(["snakemake", "-n"], repo).stderr
    )
    models_before, data_before = mtimes(repo, "models/**/*.keras"), mtimes(repo, "data/**/*.npz")
    run(["dvc", "repro"], repo)
    assert mtimes(repo, "models/**/*.keras") == models_before
    assert len(mlflow_runs(repo)[1]) == 2
    metrics = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "stateless_mse" in metrics and "w5" in metrics
    run(["dvc", "plots", "show"], repo)
    plots = (repo / "dvc_plots/index.html").read_text()
    for name in ("loss/sine_w2_rnn1.csv", "predictions/sine_w5_rnn1.csv"):
        assert name in plots

    # New window lengths for one study: only that study's windows change.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["studies"]["spots"]["windows"]["lengths"] = [12, 36]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], repo)
    data_after = mtimes(repo, "data/**/*.npz")
    assert repo / "data/windows/spots/w36.npz" in data_after
    assert {p: t for p, t in data_after.items() if p.name != "w36.npz"} == data_before
    assert mtimes(repo, "models/**/*.keras") == models_before
    data_before = data_after

    # A new epoch count retrains the model at every window and nothing upstream.
    params["studies"]["sine"]["models"]["rnn1"]["epochs"] = 4
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro"], repo)
    assert mtimes(repo, "data/**/*.npz") == data_before
    models_after = mtimes(repo, "models/**/*.keras")
    assert all(models_after[p] > models_before[p] for p in models_before)
    history = json.loads((repo / "models/sine/w2/rnn1/history.json").read_text())
    assert len(history["history"]["loss"]) == 4
    assert len(mlflow_runs(repo)[1]) == 4


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("studies", "sine", "windows", "lengths"), [0], "studies.sine.windows.lengths[0]"),
        (("studies", "sine", "models", "rnn1", "epochs"), -1, "studies.sine.models.rnn1.epochs"),
        (("studies", "sine", "architectures"), ["nope"], "studies.sine.architectures[0]"),
        (("studies", "sine", "windows", "size"), 3, "unknown key 'size' in studies.sine.windows"),
        (("studies", "sine", "split", "test_share"), 1.5, "studies.sine.split.test_share"),
    ],
)
def test_bad_params_stop_snakemake_before_any_job(tmp_path, path, value, key):
    params = tiny_params()
    node = params
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    repo = make_pipeline_copy(tmp_path / "repo", params)
    result = run(["snakemake", "--cores", "1"], repo, check=False)
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert not (repo / "data/raw").exists() and not (repo / "mlflow.db").exists()
