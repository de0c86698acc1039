import numpy as np
import pytest

from forecastlab.data import chronological_split, read_series, sine_wave, write_series


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


def test_series_round_trips_through_csv_bit_for_bit(tmp_path):
    values = sine_wave(10, 3, 0.4, seed=3)
    path = tmp_path / "s.csv"
    write_series(path, values)
    assert np.array_equal(read_series(path), values)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,value\n0,1.0\n", "s.csv:1: expected header 't,value'"),
        ("t,value\n0,1.0\n1,2.0,3\n", "s.csv:3: expected 2 fields, got 3"),
        ("t,value\n0,1.0\n1,abc\n", "s.csv:3: value 'abc' is not a number"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "s.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_series(path)


def test_chronological_split_keeps_order_and_tutorial_sizes():
    series = np.arange(5001.0)
    train, test = chronological_split(series, 0.25)
    assert len(train) == int(5001 * 0.75) == 3750
    assert np.array_equal(np.concatenate([train, test]), series)
    with pytest.raises(ValueError, match="test_share must lie strictly between 0 and 1, got 1.5"):
        chronological_split(series, 1.5)
