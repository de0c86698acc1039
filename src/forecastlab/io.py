"""The pipeline's files: written atomically (a job interrupted mid-write leaves no file a
later run trusts), read back, and saved models checked whole."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
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
    """A saved model file is damaged or is not the model it should be; the message names it."""


def check_model_file(path: str | Path) -> None:
    """Raise ModelFileError naming `path` unless it is a whole `.keras` file (a zip archive
    whose every member passes its checksum); reads no model, so it needs no Keras (which
    reports any file it cannot open as "File not found")."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise ModelFileError(f"{path}: corrupt or truncated model file ({err})") from None
    if damaged is not None:
        raise ModelFileError(f"{path}: corrupt model file ({damaged} in it fails its checksum)")


def _snake_case(name: str) -> str:
    """Keras's naming.to_snake_case: how a `.keras` file names a layer's group."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _arrays(group: h5py.Group) -> list[np.ndarray]:
    """Every array stored under an h5 group (a layer's variables and its sublayers')."""
    found: list[np.ndarray] = []
    group.visititems(
        lambda _, item: found.append(item[()]) if isinstance(item, h5py.Dataset) else None
    )
    return found


def model_file_weights(path: str | Path) -> dict[str, list[np.ndarray]]:
    """The weights stored in a `.keras` file, by layer name, read with h5py (no Keras).

    Keras saves a functional model's layers under `layers/<class in snake case>[_k]`, in
    the order of the model's layers (its config.json), the k-th repeat of a class with
    suffix _k; the optimizer's variables are elsewhere. Within a layer, nested variables
    are ordered by attribute name, not as `layer.weights` lists them, so each layer's
    arrays come as stored, unordered."""
    with zipfile.ZipFile(path) as archive:
        layers = json.loads(archive.read("config.json"))["config"]["layers"]
        stored = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    with stored:
        seen: dict[str, int] = {}
        weights = {}
        for layer in layers:
            group = _snake_case(layer["class_name"])
            repeat = seen[group] = seen.get(group, -1) + 1
            weights[layer["config"]["name"]] = _arrays(
                stored["layers"][group if repeat == 0 else f"{group}_{repeat}"]
            )
        return weights


def check_model_weights(path: str | Path, weights: Mapping[str, np.ndarray]) -> None:
    """Raise ModelFileError naming `path` and the first weight that differs unless the
    `.keras` file holds bitwise `weights` (`layer/variable` -> array, as the train job
    exports them), layer by layer, and nothing else."""
    check_model_file(path)
    try:
        stored = model_file_weights(path)
    except (KeyError, OSError, ValueError) as err:
        raise ModelFileError(f"{path}: not a model file this pipeline wrote ({err})") from None
    for name, expected in weights.items():
        layer = name.rpartition("/")[0]
        candidates = stored.get(layer, [])
        for index, array in enumerate(candidates):
            if array.dtype == expected.dtype and array.shape == expected.shape:
                if array.tobytes() == expected.tobytes():
                    del candidates[index]
                    break
        else:
            same_shape = [a for a in candidates if a.shape == expected.shape]
            change = (
                f"max |difference| {min(np.abs(a - expected).max() for a in same_shape):.3g}"
                if same_shape
                else "not in the file"
            )
            raise ModelFileError(
                f"{path}: weight {name} differs from the hand-verified weights ({change})"
            )
    extra = [layer for layer, left in stored.items() if left]
    if extra:
        raise ModelFileError(f"{path}: layer {extra[0]} holds weights the hand check never saw")
