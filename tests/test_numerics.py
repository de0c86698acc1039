"""The numerics pin: enforced against a hostile environment, and needed (the control)."""

from __future__ import annotations

import json
import subprocess
import sys

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
