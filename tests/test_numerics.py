"""The numerics pin: enforced against a hostile environment, and needed (the control)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Settings a user's shell might carry, each of which moves a trained model's last bits.
HOSTILE = {
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "NPY_DISABLE_CPU_FEATURES": "",
    "TF_NUM_INTRAOP_THREADS": "2",
}


def trained_weights_digest(unpin: str = "") -> str:
    """Train a small SimpleRNN from a fixed seed in this (fresh) process and return the
    sha256 of its weights. `unpin`, a JSON object, puts those settings back after the
    pin, as a process that escaped it would run (the control)."""
    import hashlib
    import os

    from forecastlab import numerics

    if unpin:
        os.environ.update(json.loads(unpin))
        numerics.pin_environment = lambda: None
    from forecastlab.models import build_model, compile_model, export_weights
    from forecastlab.training import fit_compiled
    from tests.conftest import TINY_LENGTH, tiny_model_hp, tiny_windows

    numerics.configure(11)
    hp = {**tiny_model_hp("deep_rnn_dense"), "units": [32, 32], "epochs": 20}
    windows = tiny_windows()
    model = compile_model(build_model("deep_rnn_dense", hp, TINY_LENGTH), hp)
    fit_compiled(model, windows["train_inputs"], windows["train_targets_next"], hp, "pin", seed=11)
    digest = hashlib.sha256()
    for name, values in sorted(export_weights(model).items()):
        digest.update(name.encode() + values.tobytes())
    return digest.hexdigest()


def digest_in_new_process(environment: dict[str, str], unpin: dict | None = None) -> str:
    code = "import sys; from tests.test_numerics import trained_weights_digest as d; "
    code += "print(d(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(unpin) if unpin else ""],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def clean_environment() -> dict[str, str]:
    import os

    from forecastlab.numerics import PINNED_ENVIRONMENT

    return {k: v for k, v in os.environ.items() if k not in PINNED_ENVIRONMENT}


def test_importing_forecastlab_pins_before_numpy_loads():
    # numpy reads NPY_DISABLE_CPU_FEATURES once, when it loads: a script run by hand, with
    # no pinned environment inherited, must load it only after the pin.
    code = (
        "import os, sys, forecastlab; "
        "print('numpy' in sys.modules, os.environ['NPY_DISABLE_CPU_FEATURES'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean_environment(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["False", "X86_V4 AVX512_ICL AVX512_SPR\n"]


def test_tensorflow_imported_before_the_pin_is_refused():
    code = "import tensorflow, forecastlab"
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean_environment(), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "NumericsNotPinned: TensorFlow was imported before forecastlab pinned its numerics" in (
        done.stderr
    )


def test_a_hostile_environment_trains_the_same_weights_bit_for_bit():
    clean = digest_in_new_process(clean_environment())
    hostile = digest_in_new_process({**clean_environment(), **HOSTILE})
    assert hostile == clean
    # The control: the same hostile settings in a process that escaped the pin train other
    # weights, so the equality above is the pin's doing.
    assert digest_in_new_process(clean_environment(), unpin=HOSTILE) != clean


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse4_2 avx avx2 fma avx512f

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: another name
"""


def test_the_fingerprint_names_the_processor_its_instruction_sets_and_caches(tmp_path):
    from forecastlab.numerics import _caches, _cpu, fingerprint

    assert _cpu(CPUINFO) == {
        "cpu": "AMD EPYC",
        "cpu_id": "AuthenticAMD family 25 model 17 stepping 1",
        "cpu_isa": "sse4_2 avx avx2 fma avx512f",
    }
    arm = _cpu("processor\t: 0\nFeatures\t: fp asimd\nCPU part\t: 0xd0c\n")
    assert arm["cpu_isa"] == "asimd" and arm["cpu_id"] == ""
    for index, (level, kind, size) in enumerate([(1, "Data", "32K"), (2, "Unified", "1024K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(f"{value}\n")
    assert _caches(tmp_path) == "L1d 32K L2 1024K"
    assert _caches(tmp_path / "missing") == ""
    assert {"cpu", "cpu_id", "cpu_isa", "cpu_caches", "lock_sha256"} <= set(fingerprint())


# What TensorFlow's CPU kernels may run that depends on the processor beyond the ISA: the
# approximate reciprocals (Eigen's prsqrt/preciprocal) and the kernels that call them.
APPROXIMATE_OPS = {"Rsqrt", "Reciprocal", "Inv", "Softmax", "LogSoftmax"}


def graph_op_types(function) -> set[str]:
    """The op types of a traced tf.function, its nested functions (loop bodies) included."""
    graph = function.graph.as_graph_def()
    types = {node.op for node in graph.node}
    for nested in graph.library.function:
        types |= {node.op for node in nested.node_def}
    return types


def test_eigen_caches_are_pinned_in_every_tensorflow_library_when_it_loads():
    import tensorflow as tf  # after forecastlab (conftest), so the pin ran at this import

    from forecastlab import numerics

    tf.linalg.matmul(tf.ones((8, 600)), tf.ones((600, 8)))  # Eigen has sized a product
    assert numerics.eigen_cache_pin() == "L1 32K L2 256K L3 2048K, pinned"
    assert set(numerics.EIGEN_LIBRARIES) <= set(numerics.pin_eigen_caches())
    assert numerics.fingerprint()["eigen_caches"] == "L1 32K L2 256K L3 2048K, pinned"


def test_an_operation_run_before_the_pin_is_refused():
    # The pinned environment (inherited), but TensorFlow imported and used before
    # forecastlab: Eigen has read this processor's caches, which no later pin can undo.
    code = (
        "import tensorflow as tf; tf.linalg.matmul(tf.ones((8, 600)), tf.ones((600, 8))); "
        "import forecastlab"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert (
        "forecastlab.numerics.NumericsNotPinned: libtensorflow_cc.so.2: Eigen already sized "
        "its products by this processor's caches (" in done.stderr
    ), done.stderr[-2000:]
    assert "before the pin; import forecastlab before running any TensorFlow operation" in (
        done.stderr
    )


def test_a_tensorflow_build_without_eigens_static_is_refused_naming_it(tmp_path):
    import tensorflow as tf

    from forecastlab.numerics import NumericsNotPinned, pin_eigen_caches

    no_libraries = tmp_path / "maps"
    no_libraries.write_text("")
    with pytest.raises(NumericsNotPinned) as refused:
        pin_eigen_caches(no_libraries)
    assert str(refused.value) == (
        f"TensorFlow {tf.__version__} in {Path(tf.__file__).resolve().parent}: Eigen's cache "
        "static (_ZZN5Eigen8internal20manage_caching_sizesENS_6ActionEPlS2_S2_E12m_cacheSizes) "
        "not found in libtensorflow_cc.so.2, libtensorflow_framework.so.2; forecastlab pins "
        "the numerics of the build in requirements.lock only"
    )


def test_no_approximate_reciprocal_reaches_what_the_models_compute():
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.ops import gen_math_ops

    values = np.linspace(0.5, 100.0, 4099, dtype="float32")
    other = np.linspace(-3.0, 7.0, 4099, dtype="float32")
    exact = np.float32(1) / np.sqrt(values)
    # The control: TensorFlow's own Rsqrt kernel is approximate, so these could fail.
    assert (gen_math_ops.rsqrt(values).numpy() != exact).sum() > 100
    assert np.array_equal(tf.math.rsqrt(values).numpy(), exact)
    assert np.array_equal(tf.function(tf.math.rsqrt)(values).numpy(), exact)
    # Grappler rewrites x / sqrt(y) into x * rsqrt(y) (the control), but not DivNoNan,
    # which RMSprop's update divides with.
    divided = tf.function(lambda x, y: x / tf.sqrt(y))(other, values).numpy()
    assert not np.array_equal(divided, other / np.sqrt(values))
    divided = tf.function(lambda x, y: tf.math.divide_no_nan(x, tf.sqrt(y)))(other, values)
    assert np.array_equal(divided.numpy(), other / np.sqrt(values))


def test_rmsprops_update_divides_exactly_in_a_traced_step():
    import keras
    import numpy as np
    import tensorflow as tf

    weights = np.linspace(-1.0, 1.0, 4099, dtype="float32")
    gradient = np.linspace(0.3, -2.0, 4099, dtype="float32")
    variable = keras.Variable(weights)
    optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    optimizer.build([variable])
    tf.function(lambda g: optimizer.apply([g], [variable]))(tf.constant(gradient))
    # Keras's update, in float32 as it computes it, with a correctly rounded division.
    rho, epsilon, lr = 0.9, optimizer.epsilon, np.float32(0.01)
    velocity = np.float32(rho) * np.zeros_like(gradient) + np.float32(1 - rho) * gradient**2
    expected = weights - (lr * gradient) / np.sqrt(velocity + np.float32(epsilon))
    assert np.array_equal(variable.numpy(), expected)


def test_no_layer_kind_or_optimizer_traces_an_approximate_op():
    import keras
    import tensorflow as tf

    from forecastlab.models import build_model, compile_model
    from tests.conftest import TINY_HORIZON, TINY_LENGTH, TINY_MODELS, tiny_model_hp

    traced = {}
    # Every layer kind with Adam; RMSprop's update on one model is the same ops for any
    # (its division is checked in the test above: grappler's rewrite happens after tracing).
    cases = [(arch, "adam") for arch in TINY_MODELS] + [("bn_rnn", "rmsprop")]
    for arch, optimizer in cases:
        hp = {**tiny_model_hp(arch), "optimizer": optimizer}
        model = compile_model(build_model(arch, hp, TINY_LENGTH, horizon=TINY_HORIZON), hp)
        if not model.trainable_variables:
            continue
        inputs = keras.ops.ones((16, TINY_LENGTH, 1))

        @tf.function
        def step(x, model=model):
            with tf.GradientTape() as tape:
                predictions = model(x, training=True)
                loss = tf.reduce_mean(tf.square(predictions))
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            return model(x, training=False)

        traced[(arch, optimizer)] = graph_op_types(step.get_concrete_function(inputs))
    assert len(traced) >= 18
    assert {
        key: types & APPROXIMATE_OPS for key, types in traced.items() if types & APPROXIMATE_OPS
    } == {}
    # The check sees inside recurrent loops: the LayerNorm cell's exact rsqrt is there.
    assert "DivNoNan" in traced[("ln_rnn", "adam")] and "DivNoNan" in traced[("bn_rnn", "adam")]
