import json
import re
import subprocess
import sys
from pathlib import Path

from forecastlab.progress import (
    VERBS,
    Estimate,
    clock,
    estimate_work,
    job_kind,
    job_name,
    job_summary,
    progress_line,
    recorded_wall,
    time_left,
    write_plan,
)
from tests.conftest import REPO, free_port, tiny_params


def write(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return str(path)


def test_job_name_from_whichever_wildcards_the_job_has():
    seeded = {"study": "sine", "length": "2", "arch": "rnn1", "seed": "43"}
    assert job_name(seeded) == "sine/w2/rnn1/seed43"
    assert job_name({"study": "sine", "length": "2", "arch": "rnn1"}) == "sine/w2/rnn1"
    assert job_name({"study": "sine", "length": "10"}) == "sine/w10"
    assert job_name({"study": "sine"}) == "sine"
    assert job_name({}) == ""


def test_a_trained_model_shows_its_final_loss_and_training_time(tmp_path):
    validated = write(
        tmp_path / "a/history.json",
        {"final_loss": 0.5, "final_val_loss": 0.000172, "train_seconds": 5.14},
    )
    wildcards = {"study": "sine", "length": "2", "arch": "rnn1"}
    assert job_summary("train_model", wildcards, ["m.keras", validated]) == (
        "sine/w2/rnn1 trained and evaluated: val_loss 0.000172, 5.1 s of training"
    )
    unvalidated = write(tmp_path / "b/history.json", {"final_loss": 1625.63, "train_seconds": 4})
    assert job_summary("train_model", wildcards, [unvalidated]).endswith(
        "trained and evaluated: loss 1.63e+03, 4.0 s of training"
    )
    baseline = write(tmp_path / "c/history.json", {"train_seconds": 0.0, "history": {}})
    assert job_summary("train_model", {"study": "sine"}, [baseline]) == "sine trained and evaluated"


def test_a_model_trained_with_its_seeds_shows_their_loss_range_and_training_time(tmp_path):
    histories = [
        write(tmp_path / f"seed{seed}/history.json", {"final_loss": loss, "train_seconds": 2.5})
        for seed, loss in ((7, 0.031), (8, 0.012), (9, 0.02))
    ]
    wildcards = {"study": "sine", "length": "2", "arch": "rnn1"}
    # Each study and seed list has its train rule (forecastlab.layout.seed_groups).
    assert job_summary("train_model_sine_seeds_7_to_9", wildcards, histories) == (
        "sine/w2/rnn1 trained and evaluated: loss 0.012 to 0.031 over 3 seeds, 7.5 s of training"
    )


def test_an_evaluation_shows_the_stateless_and_stateful_mse_first(tmp_path):
    modes = {
        m: {"mse": v} for m, v in [("stateful", 0.077), ("stateful_all", 1), ("stateless", 2e-4)]
    }
    evaluated = write(tmp_path / "eval.json", {"modes": modes})
    history = write(tmp_path / "history.json", {"final_loss": 0.5, "train_seconds": 2.0})
    assert job_summary("train_model", {"study": "s"}, [history, evaluated]) == (
        "s trained and evaluated: loss 0.5, 2.0 s of training; "
        "stateless MSE 0.0002, stateful MSE 0.077 and 1 more mode"
    )
    direct = write(tmp_path / "d/eval.json", {"modes": {"direct": {"mse": 0.01}}})
    assert job_summary("train_model", {}, [direct]) == "trained and evaluated: direct MSE 0.01"


def test_a_verification_shows_its_largest_error_and_missing_outputs_show_none(tmp_path):
    modes = {"stateless": {"max_abs_error": 2.4e-7}, "stateful": {"max_abs_error": 1.9e-5}}
    verified = write(tmp_path / "verify.json", {"passed": True, "modes": modes})
    assert job_summary("verify_model", {}, [verified]) == (
        "verified by hand: max |numpy - Keras| 1.9e-05"
    )
    # A job verifies a model's seeds: the largest error of them all, and how many.
    other = {"stateless": {"max_abs_error": 3.1e-5}}
    second = write(tmp_path / "seed2/verify.json", {"passed": True, "modes": other})
    wildcards = {"study": "sine", "length": "2", "arch": "rnn1"}
    assert job_summary("verify_model_sine_seeds_7_to_8", wildcards, [verified, second]) == (
        "sine/w2/rnn1 verified by hand: max |numpy - Keras| 3.1e-05 over 2 seeds"
    )
    (tmp_path / "bad/verify.json").parent.mkdir()
    (tmp_path / "bad/verify.json").write_text("{not json")
    assert (
        job_summary("verify_model", {}, [str(tmp_path / "bad/verify.json")]) == "verified by hand"
    )
    assert job_summary("verify_model", {}, ["gone/verify.json"]) == "verified by hand"
    assert job_summary("all", {}, []) == "every requested output is made"
    assert job_summary("some_new_rule", {"study": "x"}, []) == "x some_new_rule done"


def test_clock():
    assert [clock(s) for s in (0, 65.4, 3599.6, 3725)] == ["0:00", "1:05", "1:00:00", "1:02:05"]


def test_time_left_from_each_jobs_kind_with_how_sure_it_is():
    walls = {
        "window": [1.0, 1.0],
        "train": [30.0, 50.0],
        "train a/w2/x": [30.0],
        "train a/w50/x": [50.0],
    }
    busy = 82.0  # 82 s of jobs in 41 s: 2 at once
    known = estimate_work([("train", "train a/w50/x")] * 3, walls, {})
    assert known == Estimate(150.0, 0.0, 0)
    assert time_left(known, busy, 41.0) == "about 75 s left"
    # No job of the kind yet: the last run's record, else the rule's mean, said as a guess.
    recorded = estimate_work([("train", "train b/w50/x")], walls, {"train b/w50/x": [300.0]})
    assert time_left(recorded, busy, 41.0) == "about 2 min left"
    guessed = estimate_work([("train", "train a/w50/x"), ("train", "train b/w50/x")], walls, {})
    assert guessed == Estimate(90.0, 40.0 / 90.0, 0)
    assert time_left(guessed, busy, 41.0) == "about 45 s left, 44% guessed"
    unknown = estimate_work([("train", "train a/w50/x"), ("report", "report a")], walls, {})
    assert time_left(unknown, busy, 41.0) == "about 25 s left, 1 job not counted"
    assert time_left(estimate_work([("report", "report a")], walls, {}), busy, 41.0) == "estimating"
    assert time_left(known, 0.0, 5.0) == "estimating"  # no job has finished
    assert time_left(Estimate(80.0, 0.0, 0), 60.0, 60.0) == "about 80 s left"  # one at a time


def test_job_kinds_and_last_walls_come_from_the_wildcards_and_benchmark_records(tmp_path):
    wildcards = {"study": "sine", "length": "50", "arch": "gru"}
    assert job_kind("train_model", wildcards) == "train_model sine/w50/gru"
    assert job_kind("report_index", {}) == "report_index"
    record = tmp_path / "seed43.tsv"
    record.write_text("s\th:m:s\tmax_rss\tcpu_time\n12.5000\t0:00:12\t700.00\t12.10\n")
    assert recorded_wall(record) == 12.5
    assert recorded_wall(tmp_path / "absent.tsv") is None and recorded_wall(None) is None
    plan = tmp_path / "plan.json"
    write_plan([("train_model", wildcards, str(record)), ("report_index", {}, None)], str(plan))
    assert json.loads(plan.read_text()) == [
        {"rule": "train_model", "kind": "train_model sine/w50/gru", "last_wall": 12.5},
        {"rule": "report_index", "kind": "report_index", "last_wall": None},
    ]


def replay(jobs: list, now: float, with_last_run: bool) -> tuple[str, float, float]:
    """The time left the progress line says `now` seconds into a recorded run, the
    seconds that line amounts to, and the seconds the run really had left."""
    finished = [job for job in jobs if job[3] <= now]
    walls: dict[str, list[float]] = {}
    for rule, kind, start, end in finished:
        for key in {rule, kind}:
            walls.setdefault(key, []).append(end - start)
    last: dict[str, list[float]] = {}
    if with_last_run:  # a rerun on the same machine: the last run's records are these
        for _, kind, start, end in jobs:
            last.setdefault(kind, []).append(end - start)
    pending = [(rule, kind) for rule, kind, _, end in jobs if end > now]
    estimate = estimate_work(pending, walls, last)
    busy = sum(end - start for _, _, start, end in finished)
    said = time_left(estimate, busy, now)
    return said, estimate.seconds / max(busy / now, 1.0), max(end for *_, end in jobs) - now


def test_time_left_on_a_recorded_run_holds_or_says_it_is_a_guess():
    recorded = json.loads((Path(__file__).parent / "data/recorded_run.json").read_text())
    jobs = recorded["jobs"]
    assert len(jobs) == 881
    checkpoints = [jobs[int(len(jobs) * share)][3] for share in (0.1, 0.25, 0.5, 0.75, 0.9)]
    for now in checkpoints:
        # With the last run's records every job is estimated from its own kind.
        said, seconds, actual = replay(jobs, now, with_last_run=True)
        assert said.startswith("about") and "," not in said  # nothing guessed or left out
        assert abs(seconds - actual) <= 0.25 * actual + 60, (now, said, actual)
        # On a first run the kinds not seen yet are guessed from their rule's mean, and a
        # rule with no finished job is not counted: an estimate far off says so.
        said, seconds, actual = replay(jobs, now, with_last_run=False)
        if abs(seconds - actual) > 0.25 * actual + 60:
            assert "guessed" in said or "not counted" in said, (now, said, actual)


def test_progress_line_aligns_the_count_to_the_total():
    assert progress_line(7, 358, 65.0, "about 54 min left", "sine/w2/rnn1 trained", 9.4) == (
        "[  7/358 1:05 elapsed, about 54 min left] sine/w2/rnn1 trained (job 9 s)"
    )
    assert progress_line(3, 3, 2.0, "done", "index report rendered", None) == (
        "[3/3 0:02 elapsed, done] index report rendered"
    )


def test_every_rule_that_makes_something_says_what_it_did():
    workflow = Path(__file__).parents[1] / "workflow" / "rules"
    rules = {
        name
        for path in workflow.glob("*.smk")
        for name in re.findall(r"^rule (\w+):", path.read_text(), flags=re.MULTILINE)
    }
    assert rules and rules <= VERBS.keys(), rules - VERBS.keys()


def test_an_acquisition_that_fell_back_to_the_vendored_copy_says_so(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/monthly-sunspots.csv"  # nothing listens
    source = {
        **tiny_params()["studies"]["spots"]["source"],
        "download": True,
        "url": url,
        "timeout": 5,
    }
    output, log = tmp_path / "spots.csv", tmp_path / "spots.log"
    with open(log, "w") as handle:
        subprocess.run(
            [sys.executable, REPO / "workflow/scripts/acquire.py", "--source", json.dumps(source)]
            + ["--seed", "0", "--output", str(output)],
            cwd=REPO,
            stderr=handle,
            check=True,
        )
    said = job_summary("acquire_series", {"study": "spots"}, [str(output)], [str(log)])
    assert said == (
        "spots acquired: download failed (<urlopen error [Errno 111] Connection refused>), "
        "read the vendored copy instead"
    )
    assert job_summary("acquire_series", {"study": "spots"}, [str(output)]) == "spots acquired"
