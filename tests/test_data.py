import gzip
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecastlab.data import (
    DataError,
    chronological_split,
    fetch_verified,
    fit_scaler,
    load_series,
    monthly_dates,
    parse_dated_csv,
    random_walk,
    read_series,
    scale,
    sine_wave,
    split_sizes,
    textbook_series,
    unscale,
    write_series,
)
from tests.conftest import REPO, free_port

SUNSPOTS = REPO / "data/external/monthly-sunspots.csv"
SUNSPOTS_SHA = "c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3"


def test_clean_sine_wave_is_the_tutorials_formula():
    wave = sine_wave(period=10, cycles=500, noise=0.0, seed=0)
    assert wave.shape == (5001,)
    t = np.arange(5001)
    np.testing.assert_allclose(wave, np.sin(t * 2 * np.pi / 10), atol=1e-12)


def test_noisy_sine_is_seeded():
    a, b = sine_wave(10, 5, 0.4, seed=1), sine_wave(10, 5, 0.4, seed=1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sine_wave(10, 5, 0.4, seed=2))
    assert not np.allclose(a, sine_wave(10, 5, 0.0, seed=1))


def test_random_walk_steps_are_bounded_and_seeded():
    walk = random_walk(222, 18, seed=42)
    steps = np.diff(np.concatenate([[0.0], walk]))
    assert walk.shape == (222,) and np.abs(steps).max() <= 18
    assert np.array_equal(walk, random_walk(222, 18, seed=42))
    assert monthly_dates("2001-11", 3) == ["2001-11", "2001-12", "2002-01"]


def test_textbook_generator_is_the_books_formula():
    series = textbook_series(5, 51, seed=42)
    rng = np.random.RandomState(42)
    freq1, freq2, offsets1, offsets2 = rng.rand(4, 5, 1)
    time = np.linspace(0, 1, 51)
    expected = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    expected += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))  # 20 + 20, not 10 + 20
    expected += 0.1 * (rng.rand(5, 51) - 0.5)
    assert series.dtype == np.float32 and series.shape == (5, 51)
    np.testing.assert_array_equal(series, expected.astype(np.float32))


def test_series_round_trips_through_csv_bit_for_bit(tmp_path):
    values = sine_wave(10, 3, 0.4, seed=3)
    path = tmp_path / "s.csv"
    write_series(path, list(range(len(values))), values)
    assert np.array_equal(read_series(path), values)


def test_vendored_real_series_parse_with_their_lengths():
    dates, values = parse_dated_csv(SUNSPOTS.read_text(), SUNSPOTS)
    assert len(values) == 2820 and dates[0] == "1749-01" and dates[-1] == "1983-12"
    source = {"kind": "csv", "file": str(SUNSPOTS), "sha256": SUNSPOTS_SHA, "download": False}
    assert np.array_equal(load_series(source, seed=0)[1], values)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '"Month","x"\n"1949-01",1\n"1949-02",2,3\n',
            "s.csv:3: expected 2 fields (date, value), got 3",
        ),
        ('"Month","x"\n"1949-01",1\n"1949-02",\n', "s.csv:3: missing value"),
        ('"Month","x"\n"1949-01",1\n"1949-02",n/a\n', "s.csv:3: value 'n/a' is not a number"),
        (
            '"Month","x"\n"1949-02",1\n"1949-01",2\n',
            "s.csv:3: date 1949-01 does not come after 1949-02",
        ),
        (
            '"Month","x"\n"1949-01",1\n"1949-01",2\n',
            "s.csv:3: date 1949-01 does not come after 1949-01",
        ),
        ('"Month","x"\n"Jan 1949",1\n', "s.csv:2: date 'Jan 1949' is not YYYY-MM or YYYY-MM-DD"),
        ('"Month","x"\n', "s.csv: no data rows"),
    ],
)
def test_bad_rows_name_file_and_line(content, message):
    with pytest.raises(DataError) as error:
        parse_dated_csv(content, "s.csv")
    assert str(error.value) == message


def test_lone_carriage_returns_end_lines_like_newlines():
    lines = ['"Month","x"', '"1949-01",1', '"1949-02",2.5']
    dates, values = parse_dated_csv("\r".join(lines) + "\r", "s.csv")
    assert dates == ["1949-01", "1949-02"] and values.tolist() == [1.0, 2.5]
    with pytest.raises(DataError, match=r"^s\.csv:3: value 'x' is not a number$"):
        parse_dated_csv("\r".join([*lines[:2], '"1949-02",x']), "s.csv")


def test_a_row_the_csv_module_cannot_read_names_file_and_line():
    content = '"Month","x"\n"1949-01",1\n"1949-02","' + "9" * 200_000 + '"\n'
    with pytest.raises(DataError) as error:
        parse_dated_csv(content, "s.csv")
    assert str(error.value) == "s.csv:3: not valid CSV: field larger than field limit (131072)"


def test_compressed_bytes_under_a_csv_name_name_the_file(tmp_path):
    packed = tmp_path / "packed.csv"
    packed.write_bytes(gzip.compress(SUNSPOTS.read_bytes(), mtime=0))
    sha = hashlib.sha256(packed.read_bytes()).hexdigest()
    source = {"kind": "csv", "file": str(packed), "sha256": sha, "download": False}
    expected = f"{packed}:1: not UTF-8 text (byte 0x8b at offset 1); is it compressed or binary?"
    with pytest.raises(DataError) as error:
        load_series(source, seed=0)
    assert str(error.value) == expected
    with pytest.raises(DataError) as error:
        read_series(packed)
    assert str(error.value) == expected


def test_a_missing_data_file_is_named(tmp_path):
    with pytest.raises(DataError) as error:
        read_series(tmp_path / "gone.csv")
    assert str(error.value) == f"{tmp_path / 'gone.csv'}: cannot be read: No such file or directory"


def test_a_corrupted_vendored_copy_is_refused(tmp_path):
    copy = tmp_path / "monthly-sunspots.csv"
    copy.write_bytes(SUNSPOTS.read_bytes().replace(b"58.0", b"58.1", 1))
    source = {"kind": "csv", "file": str(copy), "sha256": SUNSPOTS_SHA, "download": False}
    with pytest.raises(
        DataError, match=f"{copy}: sha256 [0-9a-f]{{64}} does not match the expected {SUNSPOTS_SHA}"
    ):
        load_series(source, seed=0)


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path; yields (folder, base URL)."""
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_accepts_the_right_bytes_and_refuses_altered_ones(http_root):
    folder, base = http_root
    shutil.copy(SUNSPOTS, folder / "good.csv")
    (folder / "altered.csv").write_bytes(SUNSPOTS.read_bytes().replace(b"58.0", b"99.0", 1))
    assert fetch_verified(f"{base}/good.csv", SUNSPOTS_SHA, timeout=5) == SUNSPOTS.read_bytes()
    with pytest.raises(
        DataError,
        match=f"{base}/altered.csv: downloaded file has sha256 [0-9a-f]{{64}}, expected {SUNSPOTS_SHA}",
    ):
        fetch_verified(f"{base}/altered.csv", SUNSPOTS_SHA, timeout=5)

    source = {
        "kind": "csv",
        "file": str(SUNSPOTS),
        "sha256": SUNSPOTS_SHA,
        "download": True,
        "url": f"{base}/altered.csv",
        "timeout": 5,
    }
    with pytest.raises(DataError, match="downloaded file has sha256"):
        load_series(source, seed=0)


def test_without_a_server_the_download_falls_back_to_the_vendored_copy(caplog):
    source = {
        "kind": "csv",
        "file": str(SUNSPOTS),
        "sha256": SUNSPOTS_SHA,
        "download": True,
        "url": f"http://127.0.0.1:{free_port()}/monthly-sunspots.csv",  # nothing listens
        "timeout": 5,
    }
    dates, values = load_series(source, seed=0)
    assert len(values) == 2820
    assert "Connection refused" in caplog.text and "using the vendored copy" in caplog.text


def test_an_http_error_stops_the_download_naming_url_and_status(http_root):
    _, base = http_root
    source = {
        "kind": "csv",
        "file": str(SUNSPOTS),
        "sha256": SUNSPOTS_SHA,
        "download": True,
        "url": f"{base}/missing.csv",
        "timeout": 5,
    }
    with pytest.raises(DataError) as error:
        load_series(source, seed=0)
    assert str(error.value) == f"{base}/missing.csv: download failed: HTTP 404 File not found"


@pytest.mark.parametrize("kind", ["sine", "random_walk", "textbook"])
def test_generated_studies_are_bitwise_reproducible(tmp_path, kind):
    sources = {
        "sine": '{"kind": "sine", "period": 10, "cycles": 50, "noise": 0.4}',
        "random_walk": '{"kind": "random_walk", "start": "2001-01", "points": 222, "step": 18}',
        "textbook": '{"kind": "textbook", "n_series": 100, "n_steps": 60}',
    }
    suffix = "npz" if kind == "textbook" else "csv"
    digests = []
    for attempt in range(2):
        output = tmp_path / f"{attempt}.{suffix}"
        subprocess.run(
            [
                sys.executable,
                str(REPO / "workflow/scripts/acquire.py"),
                "--source",
                sources[kind],
                "--seed",
                "42",
                "--output",
                str(output),
            ],
            check=True,
            capture_output=True,
        )
        digests.append(hashlib.sha256(output.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_split_sizes_follow_the_tutorials():
    assert split_sizes(5001, test_share=0.25) == (3750, 0, 1251)  # sine
    assert split_sizes(2820, test_share=0.2) == (2256, 0, 564)  # sunspots
    assert split_sizes(222, test_share=0.25, test_size=21) == (201, 0, 21)  # random walk
    assert split_sizes(10000, 0.25, validation_size=2000, test_size=1000) == (7000, 2000, 1000)
    with pytest.raises(ValueError) as error:
        split_sizes(10, test_share=0.25, test_size=10)
    assert str(error.value) == "a split of 10 leaves no training part (validation 0, test 10)"
    with pytest.raises(ValueError) as error:
        split_sizes(3, test_share=0.25, validation_size=1)
    assert str(error.value) == "a split of 3 leaves no test part (train 2, validation 1)"
    with pytest.raises(ValueError) as error:
        split_sizes(730, test_share=0.5, validation_share=0.5)
    assert str(error.value) == (
        "validation_share 0.5 and test_share 0.5 add up to 1, leaving no training part"
    )


@given(n=st.integers(3, 500), test=st.floats(0.01, 0.5), val=st.floats(0.0, 0.4))
def test_parts_are_consecutive_and_cover_the_series(n, test, val):
    try:
        sizes = split_sizes(n, test, val)
    except ValueError:
        return
    parts = chronological_split(np.arange(n), sizes)
    assert [len(parts[p]) for p in ("train", "validation", "test")] == list(sizes)
    assert np.array_equal(np.concatenate(list(parts.values())), np.arange(n))


@pytest.mark.parametrize("kind", ["none", "minmax", "standard"])
def test_scaler_sees_only_the_training_part(kind):
    series = sine_wave(10, 20, 0.4, seed=0) * 5 + 3
    sizes = split_sizes(len(series), test_share=0.25)
    altered = series.copy()
    altered[sizes[0] :] *= 100  # only test values change
    scaled = {}
    for name, values in (("original", series), ("altered", altered)):
        train = chronological_split(values, sizes)["train"]
        offset, factor = fit_scaler(kind, train)
        scaled[name] = scale(train, offset, factor)
        np.testing.assert_allclose(unscale(scaled[name], offset, factor), train)
    assert np.array_equal(scaled["original"], scaled["altered"])
    if kind == "minmax":
        assert scaled["original"].min() == 0.0 and scaled["original"].max() == 1.0
    if kind == "standard":
        assert abs(scaled["original"].mean()) < 1e-12 and abs(scaled["original"].std() - 1) < 1e-12


def test_constant_training_part_cannot_be_scaled():
    with pytest.raises(
        ValueError, match=r"the training part is constant \(2.0\); minmax scaling divides by 0"
    ):
        fit_scaler("minmax", np.full(5, 2.0))


def test_vendored_files_match_their_sums():
    sums = dict(
        line.split()[::-1] for line in (REPO / "data/external/SHA256SUMS").read_text().splitlines()
    )
    for name, digest in sums.items():
        assert hashlib.sha256((REPO / "data/external" / name).read_bytes()).hexdigest() == digest
