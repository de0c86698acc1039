"""The pipeline's files: written atomically (a job interrupted mid-write leaves no file a
later run trusts), read back, and saved models checked whole."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it to `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.partial{final.suffix}")
    try:
        yield temporary
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: str | Path, payload: Any) -> None:
    """Indented, key-sorted JSON, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path) -> Any:
    with open(path) as handle:
        return json.load(handle)


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Uncompressed .npz of named arrays, written atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


class ModelFileError(ValueError):
    """A saved model file is damaged; the message names it."""


def check_model_file(path: str | Path) -> None:
    """Raise ModelFileError naming `path` unless it is a whole `.keras` file (a zip archive
    whose every member passes its checksum); reads no model, so it needs no Keras (which
    reports any file it cannot open as "File not found")."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise ModelFileError(
            f"{path}: corrupt or truncated model file ({err}); delete it to retrain the model"
        ) from None
    if damaged is not None:
        raise ModelFileError(
            f"{path}: corrupt model file ({damaged} in it fails its checksum); delete it to "
            "retrain the model"
        )
