"""The one place that pins the numerics, so the same params give the same bits on any
x86-64 machine with AVX2 and FMA (Intel since 2013, AMD since 2015), and the fingerprint
of the environment that decides them.

Three things make TensorFlow's CPU numbers depend on the processor, and each is pinned
here (docs/numerics.md lists every op checked):

1. Code paths chosen by instruction set (the environment below).
2. Eigen's matrix-product blocking, sized from the cache sizes CPUID reports
   (`pin_eigen_caches`).
3. Approximate reciprocals: with EIGEN_FAST_MATH, Eigen's Rsqrt and Reciprocal kernels
   (and Softmax, which calls the latter) start each full 8-wide packet from the
   rsqrtps/rcpps instructions plus one Newton step, and those instructions' bits differ
   between vendors (tensorflow/tensorflow#56529, #123551). The models reach them in two
   ways, each changed as narrowly as it can be, so that other models train as before:
   RMSprop's update (`pin_rmsprop`) and the normalization layers' rsqrt (`pin_rsqrt`).

TensorFlow's CPU kernels choose code paths by the processor's instruction set: its matrix
products (oneDNN's sgemm, also behind the Eigen contractions) are compiled at run time
for the widest vector unit found, and with `TF_ENABLE_ONEDNN_OPTS` its graph rewrites add
oneDNN's fused kernels, which do the same. numpy dispatches its transcendental functions
the same way (float64 `exp` differs between AVX2 and AVX-512 paths), and XLA, which
compiles the trainers, generates code for the processor it runs on. Capping all three at
AVX2, turning the graph rewrites off, hiding GPUs and fixing the thread pools makes every
kernel run the same code on every such machine; `bench/numerics_pin.py` measures what
each setting changes and what the pin costs.

Importing `forecastlab` calls `pin_environment()`, before any TensorFlow import, and
overrides whatever the user's environment says; processes started from a pinned one
(every Snakemake job) inherit it from the start. It also arranges for the other two pins
to be applied the moment TensorFlow finishes importing, before it can run an operation,
so every process that imports forecastlab computes pinned, whatever it does next.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

# Read by TensorFlow, oneDNN and numpy when they load: set before any of them is imported.
PINNED_ENVIRONMENT = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN's JIT kernels (TF's matmul) use AVX2 at most
    "TF_ENABLE_ONEDNN_OPTS": "0",  # no oneDNN graph rewrites (their fused kernels)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy: AVX2 at most
    "CUDA_VISIBLE_DEVICES": "-1",  # CPU kernels only, on a machine with a GPU too
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    # The trainers compile with XLA (forecastlab.training): its code generator targets the
    # processor it runs on unless capped, XNNPACK's kernels choose their own paths, and its
    # "platform dependent math" computes with the processor's approximate instructions
    # (without turning it off, the weights differ under qemu, whose approximations are
    # not this processor's).
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2 --xla_cpu_enable_fast_math=false"
    " --xla_cpu_use_xnnpack=false --xla_cpu_enable_platform_dependent_math=false",
}
# Thread pools of one: reductions split across threads sum in an order that depends on
# how many there are. Jobs run side by side instead (Snakemake's --cores).
THREADS = 1
RECIPROCALS = "exact: RMSprop divides by DivNoNan, rsqrt as DivNoNan(1, sqrt)"
BASELINE = "x86-64 AVX2+FMA (oneDNN AVX2, XLA AVX2, numpy X86_V3), TF graph rewrites off, 1 thread"

# The instruction-set extensions the fingerprint lists, when /proc/cpuinfo has them.
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "asimd")
_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "numpy")
_LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"

# Eigen reads the L1, L2 and L3 sizes through CPUID once per process (queryCacheSizes) into
# a function-local static of manage_caching_sizes, and evaluateProductBlockingSizesHeuristic
# splits products by them: a product of depth 600 is summed in blocks of 288 with a 32 KiB
# L1 and of 432 with 48 KiB, so two processors sum in another order. TensorFlow's MatMul
# contractions and tf.linalg.qr (behind Keras's Orthogonal initializer) go through it, and
# no setting overrides it. The pinned sizes are Eigen's own x86 defaults, what it assumes
# when CPUID says nothing; 32 KiB is also the commonest x86 L1d (Intel to Skylake, AMD Zen
# 1 to 4), so most machines block as they would unpinned.
EIGEN_CACHE_SIZES = (32 * 1024, 256 * 1024, 2 * 1024 * 1024)
_EIGEN_STATIC = "8internal20manage_caching_sizesENS_6ActionEPlS2_S2_E12m_cacheSizes"
_EIGEN_CACHES = re.compile(rf"_ZZN\d+\w+?{_EIGEN_STATIC}")  # also TF-Lite's EigenForTFLite
# The libraries of the locked wheel that hold the static: a build without it there (other
# symbol names, a stripped library) would run unpinned, so it is refused.
EIGEN_LIBRARIES = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")


class NumericsNotPinned(RuntimeError):
    """TensorFlow was loaded before the pin, with settings of its own, or cannot be pinned."""


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
    for module, pin in PIN_AFTER_IMPORT.items():
        if module in sys.modules:
            pin()
    if not any(isinstance(finder, _PinAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PinAfterImport())


@functools.cache
def eigen_statics(library: Path) -> list[tuple[int, int]]:
    """Where `library` keeps Eigen's cache sizes: for each copy of the static, the address
    of its three sizes (bytes, as ptrdiff_t) and of its initialisation guard, relative to
    the library's load base. Empty for a library without Eigen."""
    from forecastlab.elf import data_objects  # numpy: only once the environment is pinned

    found = []
    for sizes in data_objects(library, _EIGEN_CACHES, 24):
        guard_name = re.compile(re.escape("_ZGV" + sizes.name[2:]))
        guards = data_objects(library, guard_name, 8)
        if len(guards) != 1:
            raise NumericsNotPinned(f"{library}: no initialisation guard for {sizes.name}")
        found.append((sizes.address, guards[0].address))
    return found


def pin_eigen_caches(maps_path: Path = Path("/proc/self/maps")) -> dict[str, int]:
    """Write EIGEN_CACHE_SIZES into Eigen's cache static in every TensorFlow library this
    process has loaded, and mark it initialised so that Eigen never queries CPUID. Returns
    how many copies each library holds.

    Raises NumericsNotPinned if a library of EIGEN_LIBRARIES is not loaded or holds no such
    static (another TensorFlow build), or if Eigen already sized a product with other
    caches in this process (an operation ran before the pin).
    """
    import tensorflow

    from forecastlab.elf import load_bias, mapped_libraries

    folder = Path(tensorflow.__file__).resolve().parent
    pinned: dict[str, int] = {}
    for library, mapped_at in mapped_libraries(maps_path.read_text(), folder).items():
        statics = eigen_statics(library)
        bias = load_bias(library, mapped_at) if statics else 0
        for sizes_at, guard_at in statics:
            sizes = (ctypes.c_int64 * 3).from_address(bias + sizes_at)
            guard = ctypes.c_uint8.from_address(bias + guard_at)
            if guard.value and tuple(sizes) != EIGEN_CACHE_SIZES:
                raise NumericsNotPinned(
                    f"{library.name}: Eigen already sized its products by this processor's "
                    f"caches {tuple(sizes)} before the pin; import forecastlab before running "
                    "any TensorFlow operation"
                )
            sizes[:] = EIGEN_CACHE_SIZES
            guard.value = 1
        if statics:
            pinned[library.name] = len(statics)
    missing = [name for name in EIGEN_LIBRARIES if name not in pinned]
    if missing:
        raise NumericsNotPinned(
            f"TensorFlow {tensorflow.__version__} in {folder}: Eigen's cache static "
            f"(_ZZN5Eigen{_EIGEN_STATIC}) not found in {', '.join(missing)}; forecastlab "
            f"pins the numerics of the build in requirements.lock only"
        )
    return pinned


def eigen_cache_pin(maps_path: Path = Path("/proc/self/maps")) -> str:
    """The fingerprint's record of the cache pin: the pinned sizes and "pinned" where every
    loaded copy of Eigen's static holds them (in a process without TensorFlow: where the
    installed libraries hold the static, since every process that loads them pins it or
    refuses to run), else what is not pinned."""
    kib = " ".join(f"L{level} {size // 1024}K" for level, size in enumerate(EIGEN_CACHE_SIZES, 1))
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or spec.origin is None:
        return f"{kib}, no TensorFlow"
    folder = Path(spec.origin).resolve().parent
    if "tensorflow" not in sys.modules:
        missing = [name for name in EIGEN_LIBRARIES if not eigen_statics(folder / name)]
        return f"{kib}, NOT pinnable in {' '.join(missing)}" if missing else f"{kib}, pinned"
    from forecastlab.elf import load_bias, mapped_libraries

    unpinned = []
    for library, mapped_at in mapped_libraries(maps_path.read_text(), folder).items():
        bias = load_bias(library, mapped_at)
        for sizes_at, _ in eigen_statics(library):
            if tuple((ctypes.c_int64 * 3).from_address(bias + sizes_at)) != EIGEN_CACHE_SIZES:
                unpinned.append(library.name)
    return f"{kib}, NOT pinned in {' '.join(unpinned)}" if unpinned else f"{kib}, pinned"


def pin_tensorflow() -> None:
    """Pin what TensorFlow computes with once it is loaded: Eigen's cache sizes and the
    approximate reciprocals."""
    pin_eigen_caches()
    pin_rsqrt()


def exact_rsqrt(x, name=None):  # noqa: ANN001, ANN201  (TensorFlow's signature)
    """1 / sqrt(x) from two correctly rounded operations, where TensorFlow's Rsqrt kernel
    starts from the approximate rsqrtps instruction. DivNoNan, since no grappler pass turns
    it into Reciprocal or Rsqrt (x = 0 gives 0, not inf; every caller here adds an epsilon)."""
    import tensorflow as tf

    with tf.name_scope(name or "exact_rsqrt"):
        return tf.math.divide_no_nan(tf.ones_like(x), tf.math.sqrt(x))


def _dividing_exactly(update_step):  # noqa: ANN001, ANN202
    """RMSprop's update_step with its `ops.divide` as DivNoNan while it traces: grappler's
    arithmetic optimizer rewrites Div(x, Sqrt(y)) into Mul(x, Rsqrt(y)), not DivNoNan (the
    divisor, sqrt(velocity + epsilon), is never 0)."""
    import keras
    from keras.src import ops

    def update_step_dividing_exactly(self, gradient, variable, learning_rate):  # noqa: ANN001, ANN202
        divide, ops.divide = ops.divide, keras.ops.divide_no_nan
        try:
            return update_step(self, gradient, variable, learning_rate)
        finally:
            ops.divide = divide

    update_step_dividing_exactly.divides_exactly = True
    return update_step_dividing_exactly


def pin_rmsprop() -> None:
    """RMSprop's update divides by sqrt(velocity + epsilon), which grappler's arithmetic
    optimizer rewrites into a multiplication by the approximate Rsqrt: make the division
    DivNoNan (`_dividing_exactly`), which grappler leaves alone. A patch of Keras, refused
    on a Keras whose update_step no longer divides through ops.divide."""
    import keras
    from keras.src import ops
    from keras.src.optimizers import rmsprop

    update_step = rmsprop.RMSprop.update_step
    if getattr(update_step, "divides_exactly", False):
        return
    if "ops.divide(" not in inspect.getsource(update_step) or not hasattr(ops, "divide"):
        raise NumericsNotPinned(
            f"Keras {keras.__version__}: RMSprop.update_step no longer calls ops.divide; "
            "forecastlab pins the numerics of the build in requirements.lock only"
        )
    rmsprop.RMSprop.update_step = _dividing_exactly(update_step)


def pin_rsqrt() -> None:
    """LayerNormalization (Keras calls tf.math.rsqrt) and BatchNormalization
    (tf.nn.batch_normalization calls math_ops.rsqrt) normalize with the approximate Rsqrt:
    point both names at exact_rsqrt. A patch of TensorFlow, refused on a build without
    them."""
    import tensorflow as tf
    from tensorflow.python.ops import math_ops

    if not hasattr(math_ops, "rsqrt") or not hasattr(tf.math, "rsqrt"):
        raise NumericsNotPinned(
            f"TensorFlow {tf.__version__}: math_ops.rsqrt or tf.math.rsqrt is gone; "
            "forecastlab pins the numerics of the build in requirements.lock only"
        )
    math_ops.rsqrt = tf.math.rsqrt = exact_rsqrt


class _PinAfterImport(importlib.abc.MetaPathFinder):
    """Applies a module's pin (PIN_AFTER_IMPORT) the moment the module has executed,
    before its importer can use it: TensorFlow's libraries are loaded by then, and Keras's
    RMSprop class exists."""

    def find_spec(self, name: str, path=None, target=None):  # noqa: ANN001
        if name not in PIN_AFTER_IMPORT:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _ThenPin(spec.loader, name)
        return spec


class _ThenPin(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, name: str) -> None:
        self.loader, self.name = loader, name

    def create_module(self, spec):  # noqa: ANN001
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        PIN_AFTER_IMPORT[self.name]()


# What to pin once a module is imported (looked up when it runs, so a benchmark can
# switch one off to measure it).
PIN_AFTER_IMPORT = {
    "tensorflow": lambda: pin_tensorflow(),
    "keras.src.optimizers.rmsprop": lambda: pin_rmsprop(),
}


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
        "eigen_caches": eigen_cache_pin(),
        "reciprocals": RECIPROCALS,
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
