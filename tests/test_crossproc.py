"""The same bits on other processors, tested on this one (tests/crossproc.py trains).

Natively, under the CPUID cache shim (tests/tools/cpuidfake.c: other L1d and L2 sizes at
native speed) and under qemu-x86_64 with two CPU models (other caches and other bits from
the approximate reciprocal instructions, about 25 times slower), every model must train
bitwise the same weights and predictions. The controls show that each way of running
would reveal a difference: without the cache pin the shim's two cache sizes train other
weights, and TensorFlow's own Rsqrt kernel gives other bits under qemu.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.crossproc import CONTROL

pytestmark = pytest.mark.slow

QEMU_CPUS = ("EPYC", "Haswell")
SHIM_CACHES = {"L1d 32K L2 512K": ("32", "512"), "L1d 96K L2 2048K": ("96", "2048")}


def cpuid_faulting() -> bool:
    """The processor can make CPUID fault, which the shim needs."""
    try:
        return "cpuid_fault" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    if not cpuid_faulting():
        pytest.skip("this processor has no cpuid_fault flag: the CPUID cache shim cannot run")
    if shutil.which("cc") is None:
        pytest.skip("no C compiler to build the CPUID cache shim")
    built = tmp_path_factory.mktemp("shim") / "cpuidfake.so"
    source = REPO / "tests/tools/cpuidfake.c"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", built, source], check=True)
    return built


def start(prefix: list[str] = (), environment: dict[str, str] | None = None, *args: str):
    """tests.crossproc in a new process, run under `prefix` (qemu) with `environment`."""
    command = [*prefix, sys.executable, "-m", "tests.crossproc", *args]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **(environment or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def digests(process: subprocess.Popen) -> dict[str, str]:
    out, err = process.communicate(timeout=1800)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def shimmed(shim: Path, l1d: str, l2: str) -> dict[str, str]:
    return {"LD_PRELOAD": str(shim), "FAKE_L1D_KB": l1d, "FAKE_L2_KB": l2}


# Two qemu runs of about 25 times native speed, XLA compiling every model under emulation:
# 20 min here on 2 cores (2026-12-06).
@pytest.mark.timeout(2400)
def test_every_layer_kind_trains_the_same_bits_under_other_caches_and_processors(shim):
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-x86_64 (Debian's qemu-user) is not installed and bin/test could not")
    # The qemu runs take minutes: start them first, and run the native ones beside them.
    emulated = {cpu: start([qemu, "-cpu", cpu]) for cpu in QEMU_CPUS}
    native = digests(start())
    models = [name for name in native if name != CONTROL]
    assert len(models) >= 8
    for caches, (l1d, l2) in SHIM_CACHES.items():
        assert digests(start((), shimmed(shim, l1d, l2))) == native, caches
    # The control: unpinned, the two cache sizes sum the products in another order.
    unpinned = [
        digests(start((), shimmed(shim, l1d, l2), "--unpin-caches"))
        for l1d, l2 in SHIM_CACHES.values()
    ]
    changed = [name for name in models if unpinned[0][name] != unpinned[1][name]]
    assert len(changed) >= 5, unpinned
    for cpu, process in emulated.items():
        other = digests(process)
        # The control: qemu's rsqrtps is not this processor's, so the approximate kernel
        # differs, while every model, which the pin keeps off it, does not.
        assert other[CONTROL] != native[CONTROL], cpu
        assert {name: other[name] for name in models} == {name: native[name] for name in models}, (
            cpu
        )
