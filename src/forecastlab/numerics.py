"""The one place that pins the numerics, so the same params give the same bits on any
x86-64 machine with AVX2 and FMA (Intel since 2013, AMD since 2015), and the fingerprint
of the environment that decides them.

TensorFlow's CPU kernels choose code paths by the processor's instruction set: its matrix
products (oneDNN's sgemm, also behind the Eigen contractions) are compiled at run time
for the widest vector unit found, and with `TF_ENABLE_ONEDNN_OPTS` its graph rewrites add
oneDNN's fused kernels, which do the same. numpy dispatches its transcendental functions
the same way (float64 `exp` differs between AVX2 and AVX-512 paths). Capping both at
AVX2, turning the graph rewrites off, hiding GPUs and fixing the thread pools makes every
kernel run the same code on every such machine; `bench/numerics_pin.py` measures what
each setting changes and what the pin costs.

Importing `forecastlab` calls `pin_environment()`, before any TensorFlow import, and
overrides whatever the user's environment says; processes started from a pinned one
(every Snakemake job) inherit it from the start.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

# Read by TensorFlow, oneDNN and numpy when they load: set before any of them is imported.
PINNED_ENVIRONMENT = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN's JIT kernels (TF's matmul) use AVX2 at most
    "TF_ENABLE_ONEDNN_OPTS": "0",  # no oneDNN graph rewrites (their fused kernels)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy: AVX2 at most
    "CUDA_VISIBLE_DEVICES": "-1",  # CPU kernels only, on a machine with a GPU too
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
}
# Thread pools of one: reductions split across threads sum in an order that depends on
# how many there are. Jobs run side by side instead (Snakemake's --cores).
THREADS = 1
BASELINE = "x86-64 AVX2+FMA (oneDNN AVX2, numpy X86_V3), TF graph rewrites off, 1 thread"

# The instruction-set extensions the fingerprint lists, when /proc/cpuinfo has them.
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "asimd")
_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "numpy")
_LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"


class NumericsNotPinned(RuntimeError):
    """TensorFlow was loaded before the pin, with settings of its own."""


def pin_environment() -> None:
    """Set PINNED_ENVIRONMENT in os.environ, overriding what the user set.

    Raises NumericsNotPinned if TensorFlow was imported before under other settings:
    its kernels are then chosen already, and the numbers would depend on the machine.
    """
    unpinned = {
        key: os.environ.get(key)
        for key, value in PINNED_ENVIRONMENT.items()
        if os.environ.get(key) != value
    }
    if unpinned and "tensorflow" in sys.modules:
        raise NumericsNotPinned(
            "TensorFlow was imported before forecastlab pinned its numerics "
            f"(it saw {unpinned}); import forecastlab first"
        )
    os.environ.update(PINNED_ENVIRONMENT)


def configure(seed: int) -> None:
    """In a pinned process, fix TensorFlow's thread pools, seed Python, numpy and
    TensorFlow, and turn op determinism on (call before building a model)."""
    pin_environment()
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    except RuntimeError:
        # TensorFlow already ran an op; its pools took their size from the pinned
        # TF_NUM_*_THREADS then, so they are THREADS all the same.
        pass
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _cpu(cpuinfo: str) -> dict[str, str]:
    """The processor's model name, identity (vendor, family, model, stepping) and the ISA
    extensions of _ISA_FLAGS it has, from /proc/cpuinfo's text (its first processor)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if not key.strip() and fields:
            break  # the end of the first processor's block
        fields.setdefault(key.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    named = {"vendor_id": "", "cpu family": "family ", "model": "model ", "stepping": "stepping "}
    identity = [f"{label}{fields[key]}" for key, label in named.items() if key in fields]
    return {
        "cpu": fields.get("model name") or platform.processor() or platform.machine(),
        "cpu_id": " ".join(identity),
        "cpu_isa": " ".join(flag for flag in _ISA_FLAGS if flag in flags),
    }


def _caches(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> str:
    """The first core's cache sizes, e.g. "L1d 32K L1i 32K L2 1024K L3 32768K": matrix
    kernels size their blocks from them, so two processors with the same instruction
    sets but other caches may sum in another order (README: across two machines)."""
    sizes = []
    for index in sorted(root.glob("index*")):
        try:
            level, kind, size = (
                (index / name).read_text().strip() for name in ("level", "type", "size")
            )
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        sizes.append(f"L{level}{suffix} {size}")
    return " ".join(sizes)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def lock_hash(lock: Path = _LOCK) -> str:
    """The sha256 of requirements.lock (first 16 hex digits), or "none" without one."""
    try:
        return hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    except OSError:
        return "none"


def fingerprint() -> dict[str, str]:
    """What decides the numbers, as flat strings: the processor (its identity, instruction
    sets and cache sizes), the pinned baseline and settings, Python's and the numeric
    packages' versions, and the lock file's hash. The same machine and checkout always
    give the same fingerprint."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    versions = {package: _version(package) for package in _PACKAGES}
    return {
        **_cpu(cpuinfo),
        "cpu_caches": _caches(),
        "machine": platform.machine(),
        "baseline": BASELINE,
        "pinned": " ".join(f"{key}={value}" for key, value in PINNED_ENVIRONMENT.items()),
        "python": platform.python_version(),
        **{package: version for package, version in versions.items() if version},
        "lock_sha256": lock_hash(),
    }


def fingerprint_id(values: dict[str, str]) -> str:
    """A 12-hex-digit name for a fingerprint, for a results row to refer to it."""
    text = "\n".join(f"{key}={values[key]}" for key in sorted(values))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
