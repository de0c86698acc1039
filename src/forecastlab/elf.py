"""Data objects of a loaded native library, found by name in its ELF symbol table.

forecastlab.numerics uses this to reach a static inside TensorFlow's libraries that no
API sets (Eigen's cache sizes). Only the file's headers and symbol tables are read, with
numpy, so a 750 MB library costs a fraction of a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

_MAGIC = b"\x7fELF\x02\x01"  # 64-bit, little-endian
_SECTION = np.dtype(
    [
        ("name", "<u4"),
        ("type", "<u4"),
        ("flags", "<u8"),
        ("addr", "<u8"),
        ("offset", "<u8"),
        ("size", "<u8"),
        ("link", "<u4"),
        ("info", "<u4"),
        ("addralign", "<u8"),
        ("entsize", "<u8"),
    ]
)
_SYMBOL = np.dtype(
    [
        ("name", "<u4"),
        ("info", "u1"),
        ("other", "u1"),
        ("shndx", "<u2"),
        ("value", "<u8"),
        ("size", "<u8"),
    ]
)
_SEGMENT = np.dtype(
    [
        ("type", "<u4"),
        ("flags", "<u4"),
        ("offset", "<u8"),
        ("vaddr", "<u8"),
        ("paddr", "<u8"),
        ("filesz", "<u8"),
        ("memsz", "<u8"),
        ("align", "<u8"),
    ]
)
_SYMTAB, _DYNSYM, _PT_LOAD, _STT_OBJECT = 2, 11, 1, 1


class NotAnElfLibrary(ValueError):
    """The file is not a 64-bit little-endian ELF shared library."""


@dataclass(frozen=True)
class DataObject:
    """A data symbol: its name, its address relative to the library's load base, its size."""

    name: str
    address: int
    size: int


def _read(file: BinaryIO, dtype: np.dtype, count: int, offset: int) -> np.ndarray:
    file.seek(offset)
    return np.frombuffer(file.read(count * dtype.itemsize), dtype, count)


def _header(file: BinaryIO, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The library's segments (program headers) and sections."""
    file.seek(0)
    header = file.read(64)
    if header[:6] != _MAGIC:
        raise NotAnElfLibrary(f"{path}: not a 64-bit little-endian ELF file")
    number = lambda start, end: int.from_bytes(header[start:end], "little")  # noqa: E731
    segments = _read(file, _SEGMENT, number(0x38, 0x3A), number(0x20, 0x28))
    sections = _read(file, _SECTION, number(0x3C, 0x3E), number(0x28, 0x30))
    return segments, sections


def data_objects(path: Path, name: re.Pattern[str], size: int) -> list[DataObject]:
    """The data objects of `size` bytes whose names match `name`, from the library's full
    symbol table (.symtab, which holds local symbols too) or, in a stripped library, its
    dynamic one. An empty list where none matches."""
    with open(path, "rb") as file:
        _, sections = _header(file, path)
        tables = [kind for kind in (_SYMTAB, _DYNSYM) if (sections["type"] == kind).any()]
        if not tables:
            return []
        table = sections[np.flatnonzero(sections["type"] == tables[0])[0]]
        strings = int(sections[table["link"]]["offset"])
        symbols = _read(file, _SYMBOL, int(table["size"]) // _SYMBOL.itemsize, int(table["offset"]))
        chosen = symbols[((symbols["info"] & 0xF) == _STT_OBJECT) & (symbols["size"] == size)]
        found = []
        for symbol in chosen:
            file.seek(strings + int(symbol["name"]))
            text = file.read(512).split(b"\0", 1)[0].decode("ascii", "replace")
            if name.fullmatch(text):
                found.append(DataObject(text, int(symbol["value"]), size))
        return found


def load_bias(path: Path, mapped_at: int) -> int:
    """What to add to a symbol's address to get its address in this process, for a
    library whose segment at file offset 0 is mapped at `mapped_at` (/proc/self/maps)."""
    with open(path, "rb") as file:
        segments, _ = _header(file, path)
    loads = segments[(segments["type"] == _PT_LOAD) & (segments["offset"] == 0)]
    if not len(loads):
        raise NotAnElfLibrary(f"{path}: no loadable segment at file offset 0")
    return mapped_at - (int(loads[0]["vaddr"]) & ~0xFFF)


def mapped_libraries(maps: str, under: Path) -> dict[Path, int]:
    """The libraries under folder `under` that this process has mapped, each with the
    address its file offset 0 is mapped at, from the text of /proc/self/maps."""
    found: dict[Path, int] = {}
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or int(fields[2], 16) != 0:
            continue
        path = Path(fields[5])
        if path.is_relative_to(under) and ".so" in path.name:
            found.setdefault(path, int(fields[0].split("-")[0], 16))
    return found
