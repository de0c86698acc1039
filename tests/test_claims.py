import math

from forecastlab.claims import CLAIMS, claim_rows, claims_tree

SERIES = {"book": "textbook", "sine": "sine", "spots": "csv"}


def pair(study, kind, a, b, found, p, window=50):
    return {
        "study": study,
        "window": window,
        "forecast": kind,
        "model a": a,
        "model b": b,
        "a is": found,
        "p (Holm)": p,
    }


def by_name(rows):
    found = {}
    for row in rows:
        found.setdefault(row["name"], []).append(row)
    return found


def test_every_claim_names_its_source_tutorial():
    assert len({claim.name for claim in CLAIMS}) == len(CLAIMS)
    for claim in CLAIMS:
        assert claim.source[:3] in ("000", "001", "002", "003", "004"), claim.name


def test_claims_hold_fail_or_show_no_difference_from_the_pairwise_table():
    ten = "next 10 values"
    table = [
        # linear better than rnn1: holds.
        pair("book", "next value", "linear", "rnn1", "better", 0.001),
        # deep_rnn listed second, linear (a) worse than it: holds for deep_rnn.
        pair("book", "next value", "linear", "deep_rnn", "worse", 0.02),
        # lstm worse than seq2seq: does not hold.
        pair("book", ten, "lstm", "seq2seq", "worse", 0.003),
        pair("book", ten, "gru", "seq2seq", "no significant difference", 0.4),
        pair("book", ten, "gru", "lstm", "better", 0.01),
        # wavenet: better than two, no different from one.
        pair("book", ten, "wavenet", "seq2seq", "better", 0.001),
        pair("book", ten, "wavenet", "lstm", "better", 0.002),
        pair("book", ten, "wavenet", "gru", "no significant difference", 0.3),
        pair("book", ten, "lstm", "seq2seq", "worse", 0.003, window=60),
        # The any-series claim, on two studies; another series's textbook pair is ignored.
        pair("sine", "next value", "rnn1", "lstm", "worse", 0.04, window=2),
        pair("spots", "next value", "lstm", "rnn1", "no significant difference", 1.0, window=12),
        pair("spots", "next value", "linear", "rnn1", "worse", 0.001, window=12),
    ]
    rows = by_name(claim_rows(table, SERIES))
    verdicts = {
        name: [(r["study"], r["window"], r["verdict"], r["p (Holm)"]) for r in found]
        for name, found in rows.items()
    }
    assert verdicts["linear_beats_simple_rnn"] == [("book", 50, "holds", 0.001)]
    assert verdicts["deep_rnn_beats_linear"] == [("book", 50, "holds", 0.02)]
    assert verdicts["lstm_beats_simple_rnn_10"] == [
        ("book", 50, "does not hold", 0.003),
        ("book", 60, "does not hold", 0.003),
    ]
    assert verdicts["gru_beats_simple_rnn_10"] == [("book", 50, "no significant difference", 0.4)]
    assert verdicts["wavenet_best"] == [("book", 50, "no significant difference", 0.3)]
    assert verdicts["lstm_beats_simple_rnn"] == [
        ("sine", 2, "holds", 0.04),
        ("spots", 12, "no significant difference", 1.0),
    ]
    (wavenet,) = rows["wavenet_best"]
    assert wavenet["models compared"] == "wavenet vs every other model (next 10 values)"
    # Models these params do not train: not run, no error.
    (direct,) = rows["direct_beats_iterative"]
    assert direct["verdict"] == "not run" and direct["window"] is None
    assert direct["study"] == "the textbook series" and math.isnan(direct["p (Holm)"])
    assert direct["models compared"] == "seq2vec vs deep_rnn (next 10 values)"


def test_a_best_claim_holds_only_against_every_other_model():
    ten = "next 10 values"
    table = [
        pair("book", ten, "wavenet", "seq2seq", "better", 0.001),
        pair("book", ten, "lstm", "wavenet", "worse", 0.02),
        pair("book", ten, "lstm", "seq2seq", "better", 0.5),
    ]
    (row,) = by_name(claim_rows(table, SERIES))["wavenet_best"]
    assert (row["verdict"], row["p (Holm)"]) == ("holds", 0.02)
    table[1] = pair("book", ten, "lstm", "wavenet", "better", 0.01)
    (row,) = by_name(claim_rows(table, SERIES))["wavenet_best"]
    assert (row["verdict"], row["p (Holm)"]) == ("does not hold", 0.01)


def test_claims_in_metrics_json():
    table = [pair("book", "next value", "linear", "rnn1", "better", 0.00123456789)]
    tree = claims_tree(claim_rows(table, SERIES))
    assert tree["linear_beats_simple_rnn"] == {"book": {"w50": {"is": "holds", "p": 0.00123457}}}
    assert tree["wavenet_best"] == {"is": "not run"}
