"""The real pipeline on tiny params: Snakemake, DVC in a git repo, MLflow on SQLite, papermill.

One run of the whole pipeline (the `pipeline_repo` fixture) feeds every test here and in
test_readme.py; the tests that change params or the repository come last, in file order.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
import urllib.request

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from forecastlab import computations
from forecastlab.layout import run_file
from forecastlab.numerics import fingerprint, fingerprint_id
from tests.conftest import BIN, REPO, free_port, make_pipeline_copy, run, tiny_params, wait_for
from tests.test_computations import comparisons

pytestmark = pytest.mark.slow


def mlflow_runs(repo):
    client = MlflowClient(f"sqlite:///{repo}/mlflow.db")
    experiment = client.get_experiment_by_name("sine")
    return client, client.search_runs([experiment.experiment_id], max_results=1000)


def mtimes(repo, pattern):
    return {p: p.stat().st_mtime_ns for p in sorted(repo.glob(pattern))}


def set_param(repo, path, value):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    node = params
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def repo(pipeline_repo):
    return pipeline_repo


def test_windows_of_every_study(repo):
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


def test_models_verified_and_logged_to_mlflow(repo):
    for length in (2, 5):
        for arch in ("rnn1", "stateful_rnn1"):
            verify = json.loads(
                (repo / f"results/verify/sine/w{length}/{arch}/seed7/verify.json").read_text()
            )
            assert verify["passed"] and set(verify["modes"]) == {"stateless", "stateful"}
            assert all(m["max_abs_error"] <= 1e-5 for m in verify["modes"].values())
    for run_dir in ("book/w50/seq2seq/seed42", "walk/w20/relu_rnn/seed42", "sine/w2/naive/seed7"):
        assert json.loads((repo / f"results/verify/{run_dir}/verify.json").read_text())["passed"]

    client, found = mlflow_runs(repo)
    runs = [r for r in found if "parent_of" not in r.data.tags]  # one per seed of a model
    parents = {r.data.tags["parent_of"]: r for r in found if "parent_of" in r.data.tags}
    assert sorted(r.info.run_name for r in runs) == [
        f"sine/w{length}/{arch}/seed{seed}"
        for length in (2, 5)
        for arch, seeds in (("naive", [7]), ("rnn1", [7, 8]), ("stateful_rnn1", [7]))
        for seed in seeds
    ]
    # A parent run per model, its seeds' runs nested under it (MLflow's parentRunId),
    # holding the aggregates: rnn1's mean MSE over its two seeds, and its interval.
    assert sorted(parents) == sorted({r.info.run_name.rsplit("/", 1)[0] for r in runs})
    for name, parent in parents.items():
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.info.run_name for r in children) == sorted(
            r.info.run_name for r in runs if r.info.run_name.startswith(f"{name}/seed")
        )
        assert parent.info.status == "FINISHED" and parent.data.tags["verified"] == "true"
        mean = np.mean([r.data.metrics["stateless_mse"] for r in children])
        assert parent.data.metrics["stateless_mse"] == pytest.approx(mean, rel=1e-12)
    rnn1 = parents["sine/w2/rnn1"]
    assert rnn1.data.tags["seeds"] == "7 8" and "stateless_mse_high" in rnn1.data.metrics
    assert "stateful_to_stateless_mse_low" in rnn1.data.metrics
    # Its place in the model confidence set of the next value at window 2.
    assert rnn1.data.tags["mcs.next_value"] in ("in the set", "excluded")
    assert rnn1.data.metrics["mcs_next_value_in_set"] in (0.0, 1.0)
    assert "stateless_mse_sd" not in parents["sine/w2/naive"].data.metrics  # one seed
    for r in runs:
        assert r.info.status == "FINISHED"
        assert r.data.tags["verified"] == "true" and len(r.data.tags["git_commit"]) == 40
        assert r.data.params["window"] in ("2", "5") and "stateless_mse" in r.data.metrics
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"weights.npz", "predictions.png"} <= artifacts
    rnn1 = [r for r in runs if r.info.run_name.endswith("/rnn1")]
    for r in rnn1:
        assert len(client.get_metric_history(r.info.run_id, "val_loss")) == 3
        modes = {"stateful", "stateful_warm", "stateful_reset_L", "stateful_all"}
        assert {f"{mode}_mse" for mode in modes} | {"verify_stateful_max_abs_error"} <= set(
            r.data.metrics
        )
        assert r.data.params["model.epochs"] == "3"
        assert "loss.png" in {a.path for a in client.list_artifacts(r.info.run_id)}
    # Progress in the job logs is a line per block of epochs, no progress bars.
    # One job trains both seeds of a model, one after the other.
    log = (repo / "logs/train/sine/w2/rnn1.log").read_text()
    assert "sine/w2/rnn1/seed7: epoch 3/3 loss=" in log and len(log) < 20_000
    assert log.index("sine/w2/rnn1/seed7: evaluated") < log.index("sine/w2/rnn1/seed8: epoch")


def test_the_terminal_shows_one_progress_line_per_finished_job(repo):
    terminal = (repo.parent / "terminal.txt").read_text()
    total = int(re.search(r"^total +(\d+)$", terminal, re.M).group(1))  # Snakemake's job stats
    lines = re.findall(r"^\[ *(\d+)/(\d+) (\d+:\d\d) elapsed, ([^\]]+)\] (.+)$", terminal, re.M)
    assert [int(done) for done, *_ in lines] == list(range(1, total + 1))
    assert {int(of) for _, of, *_ in lines} == {total}
    lefts = [left for *_, left, _ in lines]
    assert lefts[-1] == "done" and any(" left" in left for left in lefts)
    # Estimated job by job (forecastlab.progress), saying how much of it is a guess.
    estimate = r"about \d+ (s|min) left(, \d+% guessed)?(, \d+ jobs? not counted)?"
    assert all(left == "estimating" or re.fullmatch(estimate, left) for left in lefts[:-1])
    assert any("guessed" in left for left in lefts)  # a first run: no records of a last one
    said = [line for *_, line in lines]
    trained = [
        s
        for s in said
        if re.match(
            r"sine/w2/rnn1 trained and evaluated: val_loss \S+ to \S+ over 2 seeds, \S+ s of "
            r"training; "
            r"stateless MSE \S+, stateful MSE ",
            s,
        )
    ]
    assert len(trained) == 1
    assert any(
        s.startswith("book/w50/seq2seq verified by hand: max |numpy - Keras| ") for s in said
    )
    assert any(
        re.match(r"sine/w2/rnn1 verified by hand: max \|numpy - Keras\| \S+ over 2 seeds", s)
        for s in said
    )
    # Snakemake's own job records are in its log file only.
    assert "localrule train_model" not in terminal and "Select jobs to execute" not in terminal
    log = sorted((repo / ".snakemake/log").glob("*.snakemake.log"))[0]  # the first run's
    # One train rule and one verify rule per study and seed list, one job each per model.
    for kind, verb in (("train_model", " trained"), ("verify_model", " verified")):
        jobs = re.findall(rf"^localrule ({kind}_\w+):", log.read_text(), re.M)
        assert len(jobs) == terminal.count(verb) == len(list(repo.glob("models/*/*/*")))
        assert f"{kind}_sine_seeds_7_to_8" in jobs and f"{kind}_sine_seed_7" in jobs


def test_train_and_evaluate_logs_hold_no_known_noise(repo):
    logs = list(repo.glob("logs/train/*/*/*.log"))  # one per model, for all its seeds
    assert len(logs) == len(list(repo.glob("models/*/*/*")))
    noise = ("E0000", "oneDNN custom operations", "Skipping variable loading", "absl::")
    assert [(log.name, n) for log in logs for n in noise if n in log.read_text()] == []


def test_reports_show_no_warning_traceback_or_machine_path(repo):
    reports = sorted(repo.glob("reports/*.html"))
    assert len(reports) == 5  # sine, walk, book, the hand computations and the index
    machine = (str(repo), str(REPO), str(BIN.parent), "site-packages")
    for report in reports:
        page = report.read_text()
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page, report.name
        assert "Traceback" not in page and "Warning" not in page, report.name
        assert [path for path in machine if path in page] == [], report.name


def test_summary_has_every_mode_and_the_stateful_answer(repo):
    with open(repo / "results/summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    # One row per seed and mode: rnn1's two seeds, every other model's one.
    seeds = {
        (r["window"], r["seed"])
        for r in rows
        if (r["study"], r["architecture"]) == ("sine", "rnn1")
    }
    assert seeds == {("2", "7"), ("2", "8"), ("5", "7"), ("5", "8")}
    modes = {(r["study"], r["window"], r["architecture"]): set() for r in rows}
    for r in rows:
        modes[(r["study"], r["window"], r["architecture"])].add(r["mode"])
    stateful = {"stateless", "stateful", "stateful_all", "stateful_warm", "stateful_reset_L"}
    for length in ("2", "5"):
        assert modes[("sine", length, "rnn1")] == stateful
        assert modes[("sine", length, "stateful_rnn1")] == stateful
        assert modes[("sine", length, "naive")] == {"stateless"}
    # Multi-step on the textbook study: iterated one-step models, seq2seq, per horizon step.
    assert modes[("book", "50", "rnn1")] == {"stateless", "iterative"}
    assert modes[("book", "50", "naive")] == {"stateless", "iterative"}
    assert modes[("book", "50", "seq2seq")] == {"seq2seq", "all_steps"}
    iterative = next(r for r in rows if r["architecture"] == "rnn1" and r["mode"] == "iterative")
    assert all(float(iterative[f"mse_step_{k}"]) >= 0 for k in range(1, 11))
    # Every row has errors in scaled and original units and MASE, and names the
    # environment that made it, which results/environment.json spells out.
    assert all(r["mse"] and r["mse_orig"] and r["mase"] for r in rows)
    assert {r["fingerprint"] for r in rows} == {fingerprint_id(fingerprint())}
    # The aggregates: per model, mode and metric, the mean and interval over its seeds.
    with open(repo / "results/aggregates.csv") as handle:
        aggregates = {
            (a["study"], a["window"], a["architecture"], a["mode"], a["metric"]): a
            for a in csv.DictReader(handle)
        }
    assert {key[:4] for key in aggregates} == {
        (r["study"], r["window"], r["architecture"], r["mode"]) for r in rows
    }
    rnn1 = aggregates[("sine", "2", "rnn1", "stateless", "mse")]
    seed_mse = [
        float(r["mse"])
        for r in rows
        if (r["study"], r["window"], r["architecture"], r["mode"])
        == ("sine", "2", "rnn1", "stateless")
    ]
    assert rnn1["seeds"] == "2" and float(rnn1["mean"]) == pytest.approx(np.mean(seed_mse))
    assert float(rnn1["low"]) < float(rnn1["mean"]) < float(rnn1["high"])
    assert aggregates[("sine", "2", "naive", "stateless", "mse")]["seeds"] == "1"
    environment = json.loads((repo / "results/environment.json").read_text())
    assert environment == {fingerprint_id(fingerprint()): fingerprint()}
    assert json.loads((repo / "results/metrics.json").read_text())["fingerprint"] == (
        fingerprint_id(fingerprint())
    )

    with open(repo / "results/stateful_vs_stateless.csv") as handle:
        verdicts = list(csv.DictReader(handle))
    assert {(v["window"], v["architecture"], v["trained"]) for v in verdicts} == {
        ("2", "rnn1", "stateless"),
        ("5", "rnn1", "stateless"),
        ("2", "stateful_rnn1", "stateful"),
        ("5", "stateful_rnn1", "stateful"),
        ("20", "relu_rnn", "stateless"),
    }
    for v in verdicts:
        if v["architecture"] != "rnn1":  # one seed: the ratio of the MSEs, no interval
            ratio = float(v["stateful MSE"]) / float(v["stateless MSE"])
            assert float(v["stateful / stateless"]) == pytest.approx(ratio, rel=1e-5)
            assert np.isnan(float(v["stateful / stateless low"])) and v["seeds"] == "1"
        else:  # two: the geometric mean of the seeds' ratios, inside its interval
            ratio = float(v["stateful / stateless"])
            assert (
                float(v["stateful / stateless low"])
                <= ratio
                <= float(v["stateful / stateless high"])
            )
            assert v["seeds"] == "2"
        significant = float(v["stateful p (DM)"]) < 0.05
        assert (v["stateful is"] != "no significant difference") == significant
        if significant:  # the sign of the seed-averaged differential, not of the ratio
            worse = float(v["stateful MSE"]) > float(v["stateless MSE"])
            assert v["stateful is"] == ("worse" if worse else "better")


@pytest.mark.parametrize("arch", ["rnn1", "stateful_rnn1"])
def test_every_metric_equals_keras_called_the_tutorials_way(repo, arch):
    """The one-call evaluation against the straightforward one, on the trained models:
    Keras's predict on the test windows, and the tutorial's stateful batch-1 model fed one
    value per call; every point metric within 1e-6 relative."""
    import keras

    from forecastlab.config import load_yaml, validate_params
    from tests.test_evaluation import stepwise_reference

    params = validate_params(
        load_yaml(repo / "params.yaml"), load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    )
    hp = params["studies"]["sine"]["models"][arch]
    for length in (2, 5):
        run = f"sine/w{length}/{arch}/seed7"
        model = keras.models.load_model(repo / f"models/{run}/model.keras", compile=False)
        arrays = np.load(repo / f"results/eval/{run}/predictions.npz")
        modes = json.loads((repo / f"results/eval/{run}/eval.json").read_text())["modes"]
        windows = np.load(repo / f"data/windows/sine/w{length}.npz")
        targets = windows["test_targets_next"]
        steps, _ = stepwise_reference(model, arch, arrays["test_series"], {0}, hp)
        straightforward = {
            "stateless": model.predict(windows["test_inputs"], verbose=0)[:, 0],
            # The forecast of the value at position p is the one made after step p - 1.
            "stateful": steps[arrays["target_positions"] - 1],
        }
        for mode, forecasts in straightforward.items():
            errors = forecasts.astype(np.float64) - targets
            expected = {"mse": np.mean(errors**2), "mae": np.mean(np.abs(errors))}
            for metric, value in expected.items():
                assert modes[mode][metric] == pytest.approx(value, rel=1e-6), (run, mode, metric)


def test_study_report_and_index(repo):
    html = (repo / "reports/sine.html").read_text()
    # The best models first, as the model confidence set with its p-values, then every
    # pair's test as a heat map, the MSE figure, and the full comparison last, whose
    # columns are the errors of each mode.
    image = 'src="data:image/png'  # a figure (the page's CSS holds data:image/png too)
    assert html.index("The best models") < html.index("<table") < html.index(image)
    assert "best models (MCS p-value)" in html and "MCS p-value" in html
    assert html.index("Which model beats which") < html.index("Test MSE at a glance")
    assert html.index("The best models") < html.index("Comparison: architecture x window x mode")
    tables = re.findall(r"<table.*?</table>", html, flags=re.S)
    table = next(t for t in tables if "RMSE (original units)" in t)
    assert "MASE" in table and "stateful_reset_L" in table
    # One row per window and mode of rnn1: stateless and four stateful modes.
    assert len(re.findall(r"<tr>\s*<td[^>]*>rnn1</td>", table)) == 10
    assert "font-weight: bold" in html  # the best value of each column
    assert html.count("data:image/png;base64") >= 4
    assert "read_npz(" not in html  # code hidden
    book = (repo / "reports/book.html").read_text()
    assert "Multi-step forecasts per horizon" in book and "t+10" in book
    # The textbook's multi-step strategies in one set: iterated, direct and seq2seq.
    assert "next 10 values" in book and "iterative" in book and "seq2seq" in book
    with open(repo / "results/model_confidence_set.csv", newline="") as handle:
        members = list(csv.DictReader(handle))
    groups = {(m["study"], m["window"], m["forecast"]) for m in members}
    assert ("book", "50", "next 10 values") in groups and ("sine", "5", "next value") in groups
    assert all(m["in set"] == "True" for m in members if m["study"] == "walk")  # one target
    with open(repo / "results/pairwise_tests.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    # Every pair of a group's models once.
    sine5 = {m["model"] for m in members if (m["study"], m["window"]) == ("sine", "5")}
    assert (
        len([r for r in pairs if (r["study"], r["window"]) == ("sine", "5")])
        == len(sine5) * (len(sine5) - 1) // 2
    )
    metrics = json.loads((repo / "results/metrics.json").read_text())
    assert metrics["sine"]["w5"]["confidence_set"]["next_value"]
    assert set(metrics["sine"]["w5"]["rnn1"]["mcs"]["next_value"]) == {"in", "p"}
    assert metrics["claims"]["direct_beats_iterative"] == {"is": "not run"}  # no seq2vec
    assert set(metrics["claims"]["lstm_beats_simple_rnn_10"]["book"]["w50"]) == {"is", "p"}

    index = (repo / "reports/index.html").read_text()
    assert 'href="sine.html"' in index and 'href="book.html"' in index
    assert index.index("data:image/png;base64") < index.index("<table")  # the answer's figure
    assert re.search(
        r"(No|Yes, so far): of \d+ window-trained models, stateful prediction is worse for "
        r"\d+, better for \d+, no significant difference for \d+ \(Diebold-Mariano",
        index,
    )
    assert "stateful p (DM)" in index  # the p-values beside the ratios
    assert "stateful_rnn1" in index  # the statefully trained models beside the others
    # Per study the confidence set, and the tutorials' claims with their verdicts.
    assert index.index("The best models of each study") < index.index("claims, tested")
    assert "lstm vs seq2seq (next 10 values)" in index and "not run" in index
    assert "002, notes on the textbook" in index and "p-value (Holm)" in index
    assert re.search(
        r"params hash <code>[0-9a-f]{12}</code> at git commit <code>[0-9a-f]{40}</code>", index
    )


def test_computations_report_shows_each_part_by_hand_equal_to_keras(repo):
    page = (repo / "reports/computations.html").read_text()
    text = html.unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S))
    )
    for part, title in computations.PART_TITLES.items():
        section = text.split(f"Part {part}: {title}")[1]
        assert [h for h in computations.HEADINGS if h not in section] == [], part
    chosen = [
        "walk/w20/td_dense",
        "sine/w2/rnn1",
        "book/w50/seq2seq",
        "book/w50/lstm",
        "book/w50/gru",
    ]
    assert [model for model in chosen if model not in text] == []
    assert "Demo 1" in text and "Demo 2" in text and "FAILED" not in text
    tables = comparisons(page)
    assert len(tables) == 5 + 3  # a comparison per part; the linear, stateful and cell demos
    tolerance = tiny_params()["verification"]
    for table in tables:
        hand = table[computations.HAND].astype(float).to_numpy()
        keras_values = table[computations.KERAS].astype(float).to_numpy()
        np.testing.assert_allclose(hand, keras_values, rtol=1e-5, atol=tolerance["atol"])
    index = (repo / "reports/index.html").read_text()
    assert 'href="computations.html"' in index


def post(url, payload):
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_mlflow_server_serves_every_run_over_rest(repo):
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{repo}/mlflow.db",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
        wait_for(f"http://127.0.0.1:{port}/health", server)
        with urllib.request.urlopen(
            f"{base}/experiments/get-by-name?experiment_name=sine"
        ) as answer:
            experiment = json.load(answer)["experiment"]
        # The UI opens the experiment on its runs table, not on a GenAI overview.
        tags_of_sine = {t["key"]: t["value"] for t in experiment["tags"]}
        assert tags_of_sine["mlflow.experimentKind"] == "custom_model_development"
        found = post(f"{base}/runs/search", {"experiment_ids": [experiment["experiment_id"]]})[
            "runs"
        ]

        def tags_of(found_run):
            return {t["key"]: t["value"] for t in found_run["data"]["tags"]}

        models = [
            f"sine/w{n}/{arch}" for n in (2, 5) for arch in ("naive", "rnn1", "stateful_rnn1")
        ]
        parents = {tags_of(r)["parent_of"]: r for r in found if "parent_of" in tags_of(r)}
        assert sorted(parents) == sorted(models)
        # Each seed run nested under its model's parent run, rnn1's two seeds under one.
        seeds = [r for r in found if "parent_of" not in tags_of(r)]
        nested = {
            name: sorted(
                r["info"]["run_name"]
                for r in seeds
                if tags_of(r).get("mlflow.parentRunId") == parent["info"]["run_id"]
            )
            for name, parent in parents.items()
        }
        assert nested["sine/w2/rnn1"] == ["sine/w2/rnn1/seed7", "sine/w2/rnn1/seed8"]
        assert nested["sine/w5/naive"] == ["sine/w5/naive/seed7"]
        assert sum(map(len, nested.values())) == len(seeds) == 8
        here = fingerprint()
        for found_run in found:
            tags = tags_of(found_run)
            # The environment that decides the numbers is on record in every run.
            assert {k: tags[f"env.{k}"] for k in here} == here
            assert tags["env.fingerprint"] == fingerprint_id(here)
        for found_run in seeds:
            tags = tags_of(found_run)
            assert tags["mlflow.source.name"] == "workflow/scripts/train.py"  # Source column
            # The windows it was trained and scored on, as datasets with their digests.
            datasets = {
                d["dataset"]["name"]: d["dataset"]["digest"]
                for d in found_run["inputs"]["dataset_inputs"]
            }
            window = found_run["info"]["run_name"].split("/")[1]
            assert set(datasets) == {f"sine/{window}/train", f"sine/{window}/test"}
            assert all(datasets.values())
            metrics = {m["key"] for m in found_run["data"]["metrics"]}
            assert {"stateless_mse", "stateless_mase", "verify_stateless_max_abs_error"} <= metrics
            if "/rnn1/" in found_run["info"]["run_name"]:
                assert {"loss", "val_loss", "stateful_warm_mse"} <= metrics
                run_id = found_run["info"]["run_id"]
                url = f"{base}/metrics/get-history?run_id={run_id}&metric_key=loss"
                with urllib.request.urlopen(url) as answer:
                    assert len(json.load(answer)["metrics"]) == 3
        # The runs table's view names columns these runs have (a misspelt one shows empty).
        view = json.loads(tags_of_sine["mlflow.sharedViewState.forecastlab"])
        have = {
            kind: {entry["key"] for r in found for entry in r["data"].get(kind, [])}
            for kind in ("metrics", "params", "tags")
        }
        columns = [column.split(".", 1) for column in view["selectedColumns"]]
        assert [
            c for kind, c in columns if kind != "attributes" and c.strip("`") not in have[kind]
        ] == []
        assert "metrics" in {kind for kind, _ in columns}
        # Every job of every study has its run: the textbook study's multi-step metrics too.
        with urllib.request.urlopen(
            f"{base}/experiments/get-by-name?experiment_name=book"
        ) as answer:
            book = json.load(answer)["experiment"]
        found = post(f"{base}/runs/search", {"experiment_ids": [book["experiment_id"]]})["runs"]
        by_name = {r["info"]["run_name"]: {m["key"] for m in r["data"]["metrics"]} for r in found}
        architectures = tiny_params()["studies"]["book"]["architectures"]
        assert set(by_name) == {
            f"book/w50/{arch}{seed}" for arch in architectures for seed in ("", "/seed42")
        }
        assert "iterative_mse_step_10" in by_name["book/w50/rnn1/seed42"]
        assert "seq2seq_mse_step_10" in by_name["book/w50/seq2seq/seed42"]
        assert "seq2seq_mse_step_10_low" not in by_name["book/w50/seq2seq"]  # one seed
        assert "seq2seq_mse_step_10" in by_name["book/w50/seq2seq"]  # its parent's mean
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_run_leaves_no_file_in_the_temporary_folder(repo):
    # The fork server's children run their exit handlers: TensorFlow's autograph removes
    # the modules it generated there, and the server its socket's folder.
    assert sorted(path.name for path in (repo.parent / "tmp").iterdir()) == []


def test_nothing_to_redo_after_a_full_run(repo):
    result = run(["snakemake", "-n"], repo)
    assert "Nothing to be done" in result.stdout + result.stderr
    models = mtimes(repo, "models/**/*.keras")
    run(["dvc", "repro"], repo)
    assert mtimes(repo, "models/**/*.keras") == models
    assert len(mlflow_runs(repo)[1]) == 8 + 6  # a run per seed, a parent per model
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    shown = metrics[""]["data"]["results/metrics.json"]["data"]
    rnn1 = shown["sine"]["w5"]["rnn1"]
    warm = rnn1["mse"]["stateful_warm"]
    assert warm["low"] < warm["mean"] < warm["high"] and rnn1["verified"] is True
    assert rnn1["verdicts"]["stateful"]["is"] in ("worse", "better", "no significant difference")
    assert sum(shown["sine"]["answer"]["stateful"].values()) == 2  # rnn1 at both windows
    assert "verify_max_abs_error" not in json.dumps(shown)


def test_dvc_plots_show_draws_a_plot_per_study_and_question_offline(repo):
    shown = run(["dvc", "plots", "show"], repo)
    assert "could not find" not in shown.stdout + shown.stderr
    page = (repo / "dvc_plots/index.html").read_text()
    folder = repo / "results/plots"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.glob("*/*.csv"))
    # Loss curves of every study, forecasts of the one-series ones (not the textbook's).
    assert {"curves/book.csv", "curves/sine.csv", "forecasts/sine.csv"} <= set(files)
    assert "forecasts/book.csv" not in files
    assert all(name in page for name in files) and "cdn." not in page
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (bin/test installs it as root)")
    # No network at all: every host name fails to resolve.
    rendered = run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
        + ["--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", "dvc_plots/index.html"],
        repo,
    ).stdout
    drawn = re.findall(r'<svg [^>]*class="marks"', rendered)  # what Vega draws a plot in
    assert len(drawn) == len(files), rendered[:2000]


def baselines_only(url: str) -> dict:
    """Params that ask no stateful question: one study of baselines alone, at one window,
    its series downloaded from `url` (where nothing answers: the vendored copy is read)."""
    spots = tiny_params()["studies"]["spots"]
    spots["source"] |= {"download": True, "url": url, "timeout": 5}
    spots |= {
        "windows": {"lengths": [12], "cut": "non_overlapping"},
        "architectures": ["naive", "seasonal_naive"],
        "models": {"naive": {}, "seasonal_naive": {"season": 12}},
    }
    return {"studies": {"spots": spots}}


def default_outputs(repo) -> dict:
    folders = ("data", "models", "results", "reports", "logs", "benchmarks")
    found = [p for folder in folders for p in (repo / folder).rglob("*") if p.is_file()]
    return {p: p.read_bytes() for p in sorted([*found, repo / "mlflow.db"])}


def test_another_params_file_runs_apart_and_baselines_alone_render_every_report(repo):
    before = default_outputs(repo)
    url = f"http://127.0.0.1:{free_port()}/monthly-sunspots.csv"
    (repo / "baselines.yaml").write_text(yaml.safe_dump(baselines_only(url)))
    result = run(["snakemake", "--cores", "2"], repo, FORECASTLAB_PARAMS="baselines.yaml")
    terminal = result.stdout + result.stderr
    assert (
        "spots acquired: download failed (<urlopen error [Errno 111] Connection refused>), "
        "read the vendored copy instead" in terminal
    )
    apart = repo / "runs/baselines"
    assert {p.name for p in (apart / "reports").glob("*.html")} == {
        "spots.html",
        "computations.html",
        "index.html",
    }
    index = (apart / "reports/index.html").read_text()
    assert "These params ask no stateful question" in html.unescape(index)
    assert (apart / "mlflow.db").exists() and (apart / "results/summary.csv").exists()
    # The default run's outputs and store are untouched, and still current.
    assert default_outputs(repo) == before
    dry_run = run(["snakemake", "-n"], repo)
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr


def test_push_fresh_clone_pull_retrains_nothing(repo, tmp_path):
    store, clone = tmp_path / "store", tmp_path / "clone"
    run(["dvc", "remote", "add", "-d", "local", str(store)], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "results"], repo)
    run(["dvc", "push"], repo)

    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    # DVC's checkout keeps no modification times: bring them into the order of the DAG.
    run(["snakemake", "--touch", "--cores", "1"], clone)
    dry_run = run(["snakemake", "-n"], clone)
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr
    weights = (clone / "models/sine/w2/rnn1/seed7/weights.npz").read_bytes()
    assert weights == (repo / "models/sine/w2/rnn1/seed7/weights.npz").read_bytes()
    output = run(["dvc", "repro"], clone).stdout
    assert "didn't change, skipping" in output and "Running stage" not in output
    assert (clone / "models/sine/w2/rnn1/seed7/weights.npz").read_bytes() == weights


def test_param_changes_redo_only_what_they_touch(repo):
    models_before, data_before = mtimes(repo, "models/**/*.keras"), mtimes(repo, "data/**/*.npz")

    # New window lengths for one study: only that study's windows change.
    set_param(repo, ["studies", "spots", "windows", "lengths"], [12, 36])
    run(["dvc", "repro"], repo)
    data_after = mtimes(repo, "data/**/*.npz")
    assert repo / "data/windows/spots/w36.npz" in data_after
    assert {p: t for p, t in data_after.items() if p.name != "w36.npz"} == data_before
    assert mtimes(repo, "models/**/*.keras") == models_before

    # A new epoch count for one architecture retrains exactly that architecture's jobs.
    set_param(repo, ["studies", "sine", "models", "rnn1", "epochs"], 4)
    run(["dvc", "repro"], repo)
    assert mtimes(repo, "data/**/*.npz") == data_after
    models_after = mtimes(repo, "models/**/*.keras")
    retrained = {
        p.relative_to(repo).as_posix() for p in models_before if models_after[p] != models_before[p]
    }
    assert retrained == {
        f"models/sine/w{length}/rnn1/seed{seed}/model.keras" for length in (2, 5) for seed in (7, 8)
    }
    history = json.loads((repo / "models/sine/w2/rnn1/seed8/history.json").read_text())
    assert len(history["history"]["loss"]) == 4
    assert len(mlflow_runs(repo)[1]) == 14 + 4  # the parents are the same

    # A third seed reruns its model's job, which trains all three seeds in one group: the
    # first two come out bitwise as they were, and the seed joins its model's parent run.
    kept = {
        path: path.read_bytes()
        for length in (2, 5)
        for seed in (7, 8)
        for role in ("weights", "eval", "predictions", "verify", "hidden")
        for path in [repo / run_file(role, f"sine/w{length}/rnn1/seed{seed}")]
    }
    set_param(repo, ["studies", "sine", "models", "rnn1", "seeds"], 3)
    run(["dvc", "repro"], repo)
    models_seeded = mtimes(repo, "models/**/*.keras")
    assert {p.relative_to(repo).as_posix() for p in set(models_seeded) - set(models_after)} == {
        "models/sine/w2/rnn1/seed9/model.keras",
        "models/sine/w5/rnn1/seed9/model.keras",
    }
    rerun = {
        p.relative_to(repo).parent.as_posix()
        for p in models_after
        if models_seeded[p] != models_after[p]
    }
    assert rerun == {
        f"models/sine/w{length}/rnn1/seed{seed}" for length in (2, 5) for seed in (7, 8)
    }
    assert {path: path.read_bytes() for path in kept} == kept
    client, runs = mlflow_runs(repo)
    assert len(runs) == 18 + 2 * 3  # each model's three seeds ran again
    parent = next(r for r in runs if r.data.tags.get("parent_of") == "sine/w5/rnn1")
    assert parent.data.tags["seeds"] == "7 8 9"
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len({r.info.run_name for r in nested}) == 3
    # dvc metrics diff shows the retrained models' rows only.
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], repo).stdout)
    keys = set(diff["results/metrics.json"])
    # Which model is best is a question about all the models of a window at once.
    compared = {
        key
        for key in keys
        if any(f".{part}." in f"{key}." for part in ("mcs", "confidence_set", "pairwise"))
    }
    changed = {tuple(key.split(".")[:3]) for key in keys - compared}
    models = {key for key in changed if key[1] != "answer"}
    assert models == {("sine", "w2", "rnn1"), ("sine", "w5", "rnn1")}
    # Anything else is the study's answer, which counts these models' verdicts, and the
    # comparisons of the retrained models' windows.
    answers = {("sine", "answer", mode) for mode in ("stateful", "warm", "reset every L")}
    assert changed - models <= answers
    assert {tuple(key.split(".")[:2]) for key in compared} <= {("sine", "w2"), ("sine", "w5")}


def epochs_of(experiment):
    """studies.sine.models.rnn1.epochs in an entry of `dvc exp show --json`."""
    data = experiment["revs"][0]["data"]["params"]["params.yaml"]["data"]
    return data["studies"]["sine"]["models"]["rnn1"]["epochs"]


def test_dvc_experiment_with_a_set_param(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "epochs 4"], repo)
    run(["dvc", "exp", "run", "-S", "studies.sine.models.rnn1.epochs=2"], repo)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    experiments = [e for row in shown for e in (row.get("experiments") or [])]
    assert {epochs_of(e) for e in experiments} == {2}
    history = json.loads((repo / "models/sine/w5/rnn1/seed7/history.json").read_text())
    assert len(history["history"]["loss"]) == 2


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


def dump_with(change) -> str:
    """tiny_params as params.yaml text, after `change(text)`."""
    return change(yaml.safe_dump(tiny_params(), sort_keys=False))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda text: text.replace(
                "lengths:\n      - 2\n      - 5", "lengths:\n      - 2\n      - 60"
            ),
            "params.yaml is invalid:\n  studies.sine.windows.lengths[1]: a window of 60 and its "
            "targets need 61 points, but the test part has 51 (of 201)",
        ),
        (
            lambda text: text.replace(
                "test_share: 0.25", "test_share: 0.6\n      validation_share: 0.4"
            ),
            "params.yaml is invalid:\n  studies.sine.split: validation_share 0.4 and test_share 0.6 "
            "add up to 1, leaving no training part",
        ),
        (
            lambda text: text.replace("seed: 7", "seed: 3.5"),
            "params.yaml is invalid:\n  studies.sine.seed: 3.5 is not of type 'integer'",
        ),
        (
            lambda text: text.replace("    seed: 7", "\tseed: 7"),
            "params.yaml:3: not valid YAML: found character '\\t' that cannot start any token "
            "(column 1; indent with spaces, YAML allows no tabs)",
        ),
        (
            lambda text: text.replace(
                "file: data/external/monthly-sunspots.csv", "file: ../../outside.csv"
            ),
            "params.yaml is invalid:\n  studies.spots.source.file: '../../outside.csv' lies "
            "outside the project folder; put the file under data/external/, or list its folder "
            "in data_roots",
        ),
        (
            lambda text: text.replace(
                "file: data/external/monthly-sunspots.csv",
                "file: data/external/monthly-sunspots.csv\n      url: file:///etc/passwd\n"
                "      download: true",
            ),
            "params.yaml is invalid:\n  studies.spots.source.url: 'file:///etc/passwd' is not an "
            "http:// or https:// address",
        ),
        (
            lambda text: text.replace("seeds: 2", "seeds: 10000"),
            "params.yaml is invalid:\n  studies.sine.models.rnn1.seeds: 10000 is neither of the "
            "allowed forms (10000 is greater than the maximum of 100; 10000 is not of type "
            "'array')",
        ),
    ],
)
def test_params_checks_stop_a_dry_run_with_their_message(tmp_path, change, expected):
    repo = make_pipeline_copy(tmp_path / "repo", tiny_params())
    text = dump_with(change)
    assert text != dump_with(lambda t: t)
    (repo / "params.yaml").write_text(text)
    result = run(["snakemake", "-n"], repo, check=False)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert not (repo / "mlflow.db").exists()


def test_whole_numbers_written_as_floats_run_as_integers(tmp_path):
    repo = make_pipeline_copy(tmp_path / "repo", tiny_params())
    text = dump_with(
        lambda t: (
            t.replace("seed: 7", "seed: 7.0")
            .replace("epochs: 3", "epochs: 3.0e+0")
            .replace("lengths:\n      - 2\n", "lengths:\n      - 2.0\n")
        )
    )
    (repo / "params.yaml").write_text(text)
    commands = run(["snakemake", "-n", "-p"], repo).stdout
    assert "data/windows/sine/w2.npz" in commands and "w2.0" not in commands
    assert "--seed 7 " in commands and '"epochs": 3,' in commands and "7.0" not in commands


def test_another_params_file_replaces_params_yaml_and_configfile_merges_over_it(tmp_path):
    from forecastlab.config import load_yaml, planned_jobs, validate_params

    repo = make_pipeline_copy(tmp_path / "repo", tiny_params())
    (repo / "tiny.yaml").write_text((repo / "params.yaml").read_text())
    book = {"studies": {"book": tiny_params()["studies"]["book"]}}
    (repo / "book.yaml").write_text(yaml.safe_dump(book))
    (repo / "params.yaml").write_text((REPO / "params.yaml").read_text())  # the default grid
    alone = run(["snakemake", "-n"], repo, FORECASTLAB_PARAMS="tiny.yaml").stdout
    merged = run(["snakemake", "-n", "--configfile", "book.yaml"], repo).stdout
    assert "data/raw/book.npz" in alone and "sine_noisy" not in alone
    assert "data/raw/book.npz" in merged and "data/raw/sine_noisy.csv" in merged
    # The job count the params check bounds is the count Snakemake plans.
    schema = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    _, jobs = planned_jobs(validate_params(tiny_params(), schema)["studies"])
    assert re.search(rf"^total\s+{jobs}$", alone, re.MULTILINE)
    # Merged params are checked as one: tiny's sine study keeps the default's models.
    narrowed = run(["snakemake", "-n", "--configfile", "tiny.yaml"], repo, check=False)
    assert narrowed.returncode != 0
    assert (
        "studies.sine.models.seasonal_naive: 'seasonal_naive' is not in "
        "studies.sine.architectures, so these hyperparameters would be ignored: list it there "
        "or remove them" in narrowed.stdout + narrowed.stderr
    )
    empty = run(["snakemake", "-n"], repo, check=False, FORECASTLAB_PARAMS="")
    assert empty.returncode != 0
    assert (
        "FORECASTLAB_PARAMS is set but empty: unset it to run on params.yaml, or set it to the "
        "params file to run on" in empty.stdout + empty.stderr
    )
