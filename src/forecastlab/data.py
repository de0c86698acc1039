"""Series: generators, validated CSV loading, chronological splits and train-only scaling."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class DataError(ValueError):
    """An input series is malformed; the message names the file (and line)."""


# -- generated series -------------------------------------------------------------------


def sine_wave(period: int, cycles: int, noise: float, seed: int) -> np.ndarray:
    """The first tutorial's wave: sin(2*pi*t/period + U(-1, 1)*noise), t = 0..period*cycles.

    Returns shape (period * cycles + 1,), float64.
    """
    t = np.arange(period * cycles + 1)
    phase_noise = np.random.default_rng(seed).uniform(-1.0, 1.0, size=t.shape) * noise
    return np.sin(t * (2 * np.pi / period) + phase_noise)


def random_walk(points: int, step: float, seed: int) -> np.ndarray:
    """The fourth tutorial's series: cumulative sum of U(-step, step) draws, shape (points,)."""
    return np.random.default_rng(seed).uniform(-step, step, size=points).cumsum()


def monthly_dates(start: str, points: int) -> list[str]:
    """`points` consecutive months from `start` ("YYYY-MM"), as "YYYY-MM" strings."""
    year, month = (int(part) for part in start.split("-"))
    first = year * 12 + month - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, first + points)]


def textbook_series(n_series: int, n_steps: int, seed: int) -> np.ndarray:
    """generate_time_series of the textbook (Geron, ch. 15), with numpy's legacy seeding.

    0.5*sin((t - o1)*(f1*10 + 10)) + 0.2*sin((t - o2)*(f2*20 + 20)) + 0.1*(U - 0.5),
    t = linspace(0, 1, n_steps). Returns (n_series, n_steps), float32.
    """
    rng = np.random.RandomState(seed)
    freq1, freq2, offsets1, offsets2 = rng.rand(4, n_series, 1)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.rand(n_series, n_steps) - 0.5)
    return series.astype(np.float32)


# -- files ------------------------------------------------------------------------------


def write_series(path: str | Path, times: list, values: np.ndarray) -> None:
    """Write a 1-D series as CSV with columns t,value (float repr round-trips exactly)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["t", "value"])
        for t, value in zip(times, values, strict=True):
            writer.writerow([t, repr(float(value))])


def read_series(path: str | Path) -> np.ndarray:
    """Read the `value` column of a t,value CSV; a bad row raises naming the file and line."""
    rows = csv_rows(decode_text(read_bytes(path), path), path)
    header = next(rows, (1, None))[1]
    if header != ["t", "value"]:
        raise DataError(f"{path}:1: expected header 't,value', got {header}")
    values = []
    for line, row in rows:
        if len(row) != 2:
            raise DataError(f"{path}:{line}: expected 2 fields, got {len(row)}")
        values.append(_number(row[1], path, line))
    return np.asarray(values, dtype=np.float64)


def read_bytes(path: str | Path) -> bytes:
    """A data file's bytes; a file that cannot be read raises naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot be read: {err.strerror}") from None


def decode_text(payload: bytes, path: str | Path) -> str:
    """A data file's bytes as UTF-8 text; other bytes (a gzip file under a .csv name)
    raise naming the file and line."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as err:
        line = payload.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte {payload[err.start]:#04x} at offset "
            f"{err.start}); is it compressed or binary?"
        ) from None


def csv_rows(text: str, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) for each row of CSV `text`; a row the csv module cannot read raises
    naming the file and line. Lines may end in LF, CRLF or a lone CR (old Mac files):
    newline="" lets the csv module see every kind."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as err:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV: {err}") from None


def _number(text: str, path: str | Path, line: int) -> float:
    if not text.strip():
        raise DataError(f"{path}:{line}: missing value")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{line}: value {text!r} is not a number") from None
    if not np.isfinite(value):
        raise DataError(f"{path}:{line}: value {text!r} is not a finite number")
    return value


def _date(text: str, path: str | Path, line: int) -> date:
    for layout in ("%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise DataError(f"{path}:{line}: date {text!r} is not YYYY-MM or YYYY-MM-DD")


def parse_dated_csv(text: str, path: str | Path) -> tuple[list[str], np.ndarray]:
    """Parse a two-column "date,value" CSV with a header row (the jbrownlee/Datasets layout).

    Every row must have two fields, a YYYY-MM or YYYY-MM-DD date later than the row
    before, and a finite number. Returns the dates as written and values (n,), float64.
    """
    rows = csv_rows(text, path)
    if next(rows, None) is None:
        raise DataError(f"{path}: empty file")
    dates: list[str] = []
    values = []
    previous: date | None = None
    for line, row in rows:
        if len(row) != 2:
            raise DataError(f"{path}:{line}: expected 2 fields (date, value), got {len(row)}")
        when = _date(row[0].strip(), path, line)
        if previous is not None and when <= previous:
            raise DataError(f"{path}:{line}: date {row[0]} does not come after {dates[-1]}")
        values.append(_number(row[1], path, line))
        dates.append(row[0].strip())
        previous = when
    if not dates:
        raise DataError(f"{path}: no data rows")
    return dates, np.asarray(values, dtype=np.float64)


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def fetch_verified(url: str, sha256: str, timeout: float) -> bytes | None:
    """Download `url`; return its bytes if their sha256 is `sha256`.

    Returns None when the server cannot be reached (no network, refused, timeout), so the
    caller can fall back to its vendored copy. Raises DataError when the server answers
    with an HTTP error (a wrong URL the user should hear about) or when bytes arrive but
    differ: other data must never slip in silently.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as err:
        raise DataError(f"{url}: download failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        log.warning("download of %s failed (%s)", url, err)
        return None
    actual = sha256_hex(payload)
    if actual != sha256:
        raise DataError(f"{url}: downloaded file has sha256 {actual}, expected {sha256}")
    return payload


def read_vendored(path: str | Path, sha256: str) -> bytes:
    """The bytes of a vendored file, after checking its sha256."""
    payload = read_bytes(path)
    actual = sha256_hex(payload)
    if actual != sha256:
        raise DataError(f"{path}: sha256 {actual} does not match the expected {sha256}")
    return payload


def load_series(source: Mapping[str, Any], seed: int) -> tuple[list, np.ndarray]:
    """A one-series study's times and values (n,), from its params.yaml `source`.

    Generated kinds use `seed`; a csv source reads its vendored copy, or downloads it when
    `download` is true and falls back to the copy if the server cannot be reached.
    """
    kind = source["kind"]
    if kind == "sine":
        values = sine_wave(source["period"], source["cycles"], source["noise"], seed)
        return list(range(len(values))), values
    if kind == "random_walk":
        values = random_walk(source["points"], source["step"], seed)
        return monthly_dates(source["start"], source["points"]), values
    if kind == "csv":
        if source["download"]:
            payload = fetch_verified(source["url"], source["sha256"], source["timeout"])
            if payload is not None:
                return parse_dated_csv(decode_text(payload, source["url"]), source["url"])
            log.warning("using the vendored copy %s instead", source["file"])
        payload = read_vendored(source["file"], source["sha256"])
        return parse_dated_csv(decode_text(payload, source["file"]), source["file"])
    raise ValueError(f"source kind {kind!r} is not a single series")


def source_size(source: Mapping[str, Any], root: str | Path = ".") -> int | None:
    """Points of a one-series source, or series of a textbook one, known from params alone
    (a csv source: its vendored copy's rows, the file relative to `root`); None when the
    copy cannot be read or parsed, which its acquire job then reports."""
    kind = source["kind"]
    if kind == "sine":
        return source["period"] * source["cycles"] + 1  # as sine_wave makes it
    if kind == "random_walk":
        return source["points"]
    if kind == "textbook":
        return source["n_series"]
    try:
        text = decode_text(read_bytes(Path(root) / source["file"]), source["file"])
        return len(parse_dated_csv(text, source["file"])[1])
    except DataError:
        return None


# -- splitting and scaling --------------------------------------------------------------


def split_sizes(
    n: int,
    test_share: float,
    validation_share: float = 0.0,
    test_size: int | None = None,
    validation_size: int | None = None,
) -> tuple[int, int, int]:
    """Points (or series) in the train, validation and test parts, in that order.

    A size, when given, takes precedence over its share. With shares alone the training
    part gets int(n * (1 - validation_share - test_share)), as the tutorials compute it.
    """
    if test_size is None and validation_size is None:
        if validation_share + test_share >= 1:
            raise ValueError(
                f"validation_share {validation_share} and test_share {test_share} add up to "
                f"{validation_share + test_share:g}, leaving no training part"
            )
        n_train = int(n * (1.0 - validation_share - test_share))
        n_val = int(n * validation_share)
        n_test = n - n_train - n_val
    else:
        n_val = validation_size if validation_size is not None else int(n * validation_share)
        n_test = test_size if test_size is not None else int(n * test_share)
        n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(
            f"a split of {n} leaves no training part (validation {n_val}, test {n_test})"
        )
    if n_test < 1:
        raise ValueError(
            f"a split of {n} leaves no test part (train {n_train}, validation {n_val})"
        )
    return n_train, n_val, n_test


def chronological_split(series: np.ndarray, sizes: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Cut (n, ...) along its first axis into consecutive train, validation and test parts."""
    n_train, n_val, _ = sizes
    return {
        "train": series[:n_train],
        "validation": series[n_train : n_train + n_val],
        "test": series[n_train + n_val :],
    }


SCALERS = ("none", "minmax", "standard")


def fit_scaler(kind: str, train: np.ndarray) -> tuple[float, float]:
    """(offset, scale) from the training part only: scaled = (x - offset) / scale.

    none: (0, 1); minmax: (min, max - min), to [0, 1]; standard: (mean, std).
    """
    if kind == "none":
        return 0.0, 1.0
    if kind == "minmax":
        offset, scale = float(train.min()), float(train.max() - train.min())
    elif kind == "standard":
        offset, scale = float(train.mean()), float(train.std())
    else:
        raise ValueError(f"unknown scaler {kind!r}; known: {', '.join(SCALERS)}")
    if scale == 0.0:
        raise ValueError(f"the training part is constant ({offset}); {kind} scaling divides by 0")
    return offset, scale


def scale(values: np.ndarray, offset: float, scale_: float) -> np.ndarray:
    return (values - offset) / scale_


def unscale(values: np.ndarray, offset: float, scale_: float) -> np.ndarray:
    """Back to the series' original units."""
    return values * scale_ + offset
