import copy

import pytest

from forecastlab.config import ParamsError, load_yaml, params_hash, validate_params
from forecastlab.layout import model_seeds, runs_of, seed_groups
from tests.conftest import REPO, tiny_params

SCHEMA = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
SPOTS = tiny_params()["studies"]["spots"]["source"]


def test_repository_params_are_valid_and_defaults_fill_in():
    params = validate_params(load_yaml(REPO / "params.yaml"), SCHEMA)
    assert params["studies"]["sine"]["windows"]["lengths"] == [2, 10, 50]

    minimal = {
        "studies": {
            "s": {"source": {"kind": "sine"}, "architectures": ["rnn1"], "models": {"rnn1": {}}}
        }
    }
    filled = validate_params(minimal, SCHEMA)
    assert filled["studies"]["s"]["split"]["test_share"] == 0.25
    assert filled["studies"]["s"]["models"]["rnn1"]["epochs"] == 1000
    assert filled["verification"]["atol"] == 1e-5


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("studies", "sine", "windows", "lengths"),
            [0, 5],
            "studies.sine.windows.lengths[0]: 0 is less than the minimum of 1",
        ),
        (
            ("studies", "sine", "models", "rnn1", "epochs"),
            -3,
            "studies.sine.models.rnn1.epochs: -3 is less than the minimum of 1",
        ),
        (
            ("studies", "sine", "architectures"),
            ["transformer"],
            "studies.sine.architectures[0]: 'transformer' is not one of ['naive', "
            "'seasonal_naive', 'linear', 'linear_direct', 'td_dense', 'rnn1', 'rnn3', "
            "'deep_rnn', 'deep_rnn_dense', 'seq2vec', 'seq2seq', 'bn_rnn', 'relu_rnn', 'mc_rnn', "
            "'ln_rnn', 'lstm', "
            "'gru', 'stateful_rnn1', 'stateful_rnn3', 'stateful_lstm', 'stateful_gru', "
            "'conv_gru', 'wavenet']",
        ),
        (
            ("studies", "sine", "split", "test_share"),
            1.5,
            "studies.sine.split.test_share: 1.5 is greater than or equal to the maximum of 1",
        ),
        (
            ("studies", "sine", "windows", "stride"),
            3,
            "unknown key 'stride' in studies.sine.windows (allowed: cut, horizon, lengths, targets)",
        ),
    ],
)
def test_bad_params_name_the_key(path, value, expected):
    run_bad_params(path, value, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0 is less than the minimum of 1; 0 is not of type 'array'"),
        ([7, 7], "[7, 7] is not of type 'integer'; [7, 7] has non-unique elements"),
        ([], "[] is not of type 'integer'; [] should be non-empty"),
    ],
)
def test_bad_seeds_say_what_a_count_or_a_list_needs(value, expected):
    run_bad_params(
        ("studies", "sine", "seeds"),
        value,
        f"studies.sine.seeds: {value!r} is neither of the allowed forms ({expected})",
    )


def test_seeds_are_a_count_from_the_study_seed_or_a_list_and_baselines_have_one():
    params = tiny_params()
    params["studies"]["sine"]["seeds"] = 3
    studies = validate_params(params, SCHEMA)["studies"]
    sine = studies["sine"]
    assert (model_seeds(sine, "rnn1"), model_seeds(sine, "stateful_rnn1")) == ([7, 8], [7, 8, 9])
    assert model_seeds(sine, "naive") == [7]
    sine["models"]["stateful_rnn1"]["seeds"] = [3, 1]
    assert model_seeds(sine, "stateful_rnn1") == [3, 1]
    runs = [r for r in runs_of({"sine": sine}) if (r["window"], r["arch"]) == (2, "stateful_rnn1")]
    assert [(r["seed"], r["seeds"]) for r in runs] == [(3, [3, 1]), (1, [3, 1])]
    assert runs[1]["model"] == "models/sine/w2/stateful_rnn1/seed1/model.keras"
    # One train rule per seed list of the study, each for the architectures that use it,
    # and a verify rule of the same name.
    groups = {
        g["rules"]["train_model"]: (g["archs"], g["seeds"]) for g in seed_groups({"sine": sine})
    }
    assert groups == {
        "train_model_sine_seed_7": (["naive"], [7]),
        "train_model_sine_seeds_7_to_8": (["rnn1"], [7, 8]),
        "train_model_sine_seeds_3_1": (["stateful_rnn1"], [3, 1]),
    }
    assert {g["rules"]["verify_model"] for g in seed_groups({"sine": sine})} == {
        name.replace("train_model", "verify_model") for name in groups
    }


def run_bad_params(path, value, expected):
    params = tiny_params()
    node = params
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ParamsError) as error:
        validate_params(params, SCHEMA, source="tiny.yaml")
    assert str(error.value) == f"tiny.yaml is invalid:\n  {expected}"


def test_unknown_top_level_key_and_missing_model():
    params = tiny_params() | {"epochs": 5}
    with pytest.raises(
        ParamsError,
        match=r"unknown key 'epochs' \(allowed: data_roots, statistics, studies, verification\)",
    ):
        validate_params(params, SCHEMA)
    params = tiny_params()
    del params["studies"]["sine"]["models"]["rnn1"]
    with pytest.raises(
        ParamsError, match=r"studies.sine.architectures: 'rnn1' has no hyperparameters"
    ):
        validate_params(params, SCHEMA)


def test_params_hash_ignores_key_order_but_not_values():
    a = {"x": 1, "y": {"z": 2}}
    b = {"y": {"z": 2}, "x": 1}
    assert params_hash(a) == params_hash(b)
    c = copy.deepcopy(a)
    c["y"]["z"] = 3
    assert params_hash(a) != params_hash(c)


@pytest.mark.parametrize(
    ("study", "change", "expected"),
    [
        (
            "spots",
            {"source": {"kind": "csv", "file": "x.csv"}},
            "studies.spots.source: 'sha256' is a required property",
        ),
        (
            "spots",
            {"source": {"kind": "sine", "file": "x.csv"}},
            "unknown key 'file' in studies.spots.source (allowed: cycles, kind, noise, period)",
        ),
        (
            "spots",
            {"source": {"kind": "excel"}},
            "studies.spots.source.kind: 'excel' is not one of ['sine', 'random_walk', 'textbook', 'csv']",
        ),
        (
            "spots",
            {"scaler": "robust"},
            "studies.spots.scaler: 'robust' is not one of ['none', 'minmax', 'standard']",
        ),
        (
            "walk",
            {"windows": {"lengths": [20], "cut": "diagonal"}},
            "studies.walk.windows.cut: 'diagonal' is not one of ['sliding', 'non_overlapping', 'series']",
        ),
        (
            "walk",
            {"windows": {"lengths": [20], "cut": "series"}, "architectures": [], "models": {}},
            "studies.walk.windows.cut: textbook studies (many short series) and only they use cut: series",
        ),
        (
            "walk",
            {"architectures": ["rnn1"], "models": {"rnn1": {}}},
            "studies.walk.models.rnn1.target: 'next' is not among the study's windows.targets "
            "['shifted']",
        ),
        (
            "walk",
            {"architectures": ["wavenet"], "models": {"wavenet": {"target": "next"}}},
            "studies.walk.models.wavenet.target: wavenet learns shifted or shifted_horizon, "
            "not 'next'",
        ),
        (
            "spots",
            {"architectures": ["seasonal_naive"], "models": {"seasonal_naive": {"season": 132}}},
            "studies.spots.models.seasonal_naive.season: 132 is longer than every window length "
            "[12, 24]; the seasonal naive forecast needs a season in the window",
        ),
        (
            "book",
            {
                "architectures": ["seasonal_naive"],
                "models": {"seasonal_naive": {"season": 5, "target": "horizon"}},
            },
            "studies.book.models.seasonal_naive.season: a forecast cannot reach beyond one season",
        ),
        (
            "book",
            {"split": {"test_size": 0}},
            "studies.book.split.test_size: 0 is less than the minimum of 1",
        ),
        (
            "walk",
            {"architectures": ["relu_rnn"]},
            "studies.walk.models.td_dense: 'td_dense' is not in studies.walk.architectures, so "
            "these hyperparameters would be ignored: list it there or remove them",
        ),
        (
            "spots",
            {"source": SPOTS | {"file": "../outside.csv"}},
            "studies.spots.source.file: '../outside.csv' lies outside the project folder; put "
            "the file under data/external/, or list its folder in data_roots",
        ),
        (
            "spots",
            {"source": SPOTS | {"file": "/etc/passwd"}},
            "studies.spots.source.file: '/etc/passwd' lies outside the project folder; put "
            "the file under data/external/, or list its folder in data_roots",
        ),
        (
            "spots",
            {"source": SPOTS | {"url": "file:///etc/passwd", "download": True}},
            "studies.spots.source.url: 'file:///etc/passwd' is not an http:// or https:// address",
        ),
        (
            "sine",
            {"seeds": 10000},
            "studies.sine.seeds: 10000 is neither of the allowed forms (10000 is greater than "
            "the maximum of 100; 10000 is not of type 'array')",
        ),
        (
            "sine",
            {"seeds": list(range(101))},
            "studies.sine.seeds: [0, 1, 2, 3, 4, 5, ...] is neither of the allowed forms "
            "([0, 1, 2, 3, 4, 5, ...] is not of type 'integer'; [0, 1, 2, 3, 4, 5, ...] is too long)",
        ),
    ],
)
def test_study_keys_that_depend_on_each_other(study, change, expected):
    params = tiny_params()
    params["studies"][study].update(change)
    with pytest.raises(ParamsError) as error:
        validate_params(params, SCHEMA, source="tiny.yaml")
    assert str(error.value) == f"tiny.yaml is invalid:\n  {expected}"


@pytest.mark.parametrize(
    ("study", "key", "change", "expected"),
    [
        (
            "sine",
            "windows",
            {"lengths": [2, 60]},
            "studies.sine.windows.lengths[1]: a window of 60 and its targets need 61 points, "
            "but the test part has 51 (of 201)",
        ),
        (
            "sine",
            "windows",
            {"lengths": [160]},
            "studies.sine.windows.lengths[0]: a window of 160 and its targets need 161 points, "
            "but the train part has 150 (of 201)",
        ),
        (  # a csv study: its size is the vendored file's row count
            "spots",
            "windows",
            {"lengths": [12, 300]},
            "studies.spots.windows.lengths[1]: a window of 300 and its targets need 301 points, "
            "but the validation part has 282 (of 2820)",
        ),
        (
            "book",
            "windows",
            {"lengths": [55]},
            "studies.book.windows.lengths[0]: a window of 55 and its targets need 65 steps, "
            "but each series has source.n_steps 60",
        ),
        (
            "sine",
            "split",
            {"validation_share": 0.4, "test_share": 0.6},
            "studies.sine.split: validation_share 0.4 and test_share 0.6 add up to 1, "
            "leaving no training part",
        ),
        (
            "book",
            "split",
            {"test_size": 40},
            "studies.book.split: a split of 40 leaves no training part (validation 8, test 40)",
        ),
    ],
)
def test_sizes_are_checked_from_params_alone(study, key, change, expected, monkeypatch):
    monkeypatch.chdir(REPO)  # where the csv study's vendored file is found, as in a run
    params = tiny_params()
    params["studies"][study][key].update(change)
    with pytest.raises(ParamsError) as error:
        validate_params(params, SCHEMA, source="tiny.yaml")
    assert str(error.value) == f"tiny.yaml is invalid:\n  {expected}"


def test_whole_numbers_written_as_floats_become_integers():
    params = tiny_params()
    sine = params["studies"]["sine"]
    sine["seed"], sine["windows"]["lengths"] = 3.0, [2.0, 5]
    sine["models"]["rnn1"] |= {"epochs": 1.0e3, "units": 1.0, "learning_rate": 1.0}
    params["studies"]["book"]["models"]["seq2seq"]["units"] = [4.0, 4]
    studies = validate_params(params, SCHEMA)["studies"]
    rnn1 = studies["sine"]["models"]["rnn1"]
    assert [studies["sine"]["seed"], *studies["sine"]["windows"]["lengths"]] == [3, 2, 5]
    assert [rnn1["epochs"], rnn1["units"], *studies["book"]["models"]["seq2seq"]["units"]] == [
        1000,
        1,
        4,
        4,
    ]
    assert all(
        type(value) is int
        for value in (
            studies["sine"]["seed"],
            rnn1["epochs"],
            studies["sine"]["windows"]["lengths"][0],
        )
    )
    assert type(rnn1["learning_rate"]) is float  # a number, not an integer, stays as written
    sine["seed"] = 3.5
    with pytest.raises(ParamsError) as error:
        validate_params(params, SCHEMA, source="tiny.yaml")
    assert (
        str(error.value)
        == "tiny.yaml is invalid:\n  studies.sine.seed: 3.5 is not of type 'integer'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "studies:\n  sine:\n\tseed: 7\n",
            "3: not valid YAML: found character '\\t' that cannot start any token (column 1; "
            "indent with spaces, YAML allows no tabs)",
        ),
        (
            "studies:\n  sine: {seed: 7\n",
            "3: not valid YAML: expected ',' or '}', but got '<stream end>' (column 1)",
        ),
    ],
)
def test_yaml_syntax_errors_name_file_and_line(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError) as error:
        load_yaml(path)
    assert str(error.value) == f"{path}:{expected}"


def test_params_that_plan_too_many_trained_models_are_refused_with_the_count():
    params = tiny_params()
    sine = params["studies"]["sine"] | {"seeds": 100}  # 2 windows x 2 trained models x 100
    del sine["models"]["rnn1"]["seeds"]
    params["studies"] = {f"sine{n}": copy.deepcopy(sine) for n in range(5)}
    params["studies"]["sine4"]["windows"]["lengths"] = [2, 3, 5]
    with pytest.raises(ParamsError) as error:
        validate_params(params, SCHEMA, source="big.yaml")
    assert str(error.value) == (
        "big.yaml is invalid:\n  studies: these params plan 2211 trained models (97 jobs), "
        "more than the 2000 one run may plan; studies.sine4 plans the most: lower its seeds, "
        "windows.lengths or architectures, or split the studies over several params files"
    )
    del params["studies"]["sine4"]
    assert validate_params(params, SCHEMA)
