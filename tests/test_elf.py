"""Finding a library's data objects by name, against a library built here (its address
as the library itself reports it is the oracle)."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from forecastlab.elf import NotAnElfLibrary, data_objects, load_bias, mapped_libraries

SOURCE = """
struct sizes { long l1, l2, l3; };
static struct sizes *where(void) { static struct sizes kept = {1, 2, 3}; return &kept; }
long read_l1(void) { return where()->l1; }
void *address(void) { return where(); }
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler to build the test library")
    folder = tmp_path_factory.mktemp("elf")
    (folder / "kept.c").write_text(SOURCE)
    built = folder / "libkept.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", built, folder / "kept.c"], check=True)
    return built


def test_a_local_static_is_found_by_name_and_size_and_written_in_place(library):
    found = data_objects(library, re.compile(r"kept(\.\d+)?"), 24)
    assert [o.name.split(".")[0] for o in found] == ["kept"]
    assert data_objects(library, re.compile(r"kept(\.\d+)?"), 8) == []
    assert data_objects(library, re.compile("missing"), 24) == []

    loaded = ctypes.CDLL(str(library))
    loaded.address.restype = ctypes.c_void_p
    mapped = mapped_libraries(Path("/proc/self/maps").read_text(), library.parent)
    assert list(mapped) == [library]
    at = load_bias(library, mapped[library]) + found[0].address
    assert at == loaded.address()
    sizes = (ctypes.c_int64 * 3).from_address(at)
    assert list(sizes) == [1, 2, 3]
    sizes[0] = 32768
    assert loaded.read_l1() == 32768


def test_a_file_that_is_no_elf_library_is_named(tmp_path):
    text = tmp_path / "notes.so"
    text.write_text("not a library at all, but long enough to hold a header " * 4)
    with pytest.raises(NotAnElfLibrary, match=f"^{re.escape(str(text))}: not a 64-bit"):
        data_objects(text, re.compile("x"), 8)


def test_mapped_libraries_reads_the_first_mapping_of_each_file_under_a_folder():
    maps = (
        "7f0000000000-7f0000001000 r--p 00000000 08:01 1 /opt/tf/libtensorflow_cc.so.2\n"
        "7f0000001000-7f0000009000 r-xp 00001000 08:01 1 /opt/tf/libtensorflow_cc.so.2\n"
        "7f1000000000-7f1000001000 r--p 00000000 08:01 2 /usr/lib/libc.so.6\n"
        "7f2000000000-7f2000001000 rw-p 00000000 00:00 0 \n"
        "7f3000000000-7f3000001000 r--p 00000000 08:01 3 /opt/tf/data.bin\n"
    )
    assert mapped_libraries(maps, Path("/opt/tf")) == {
        Path("/opt/tf/libtensorflow_cc.so.2"): 0x7F0000000000
    }
