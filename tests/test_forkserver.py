"""The fork server: scripts run in its children as in a fresh interpreter, with the
client's arguments, streams, directory, environment and exit status, and die with it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from forecastlab import forkserver
from tests.conftest import REPO
from tests.test_numerics import digest_in_new_process

SCRIPT = """
import os, sys
print("out", sys.argv[1:], os.getcwd(), os.environ.get("MARK"))
print("err", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""
TRAINING = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.test_numerics import trained_weights_digest
print(trained_weights_digest())
"""
SLEEPER = """
import sys, time
from pathlib import Path
Path(sys.argv[1]).write_text("started")
time.sleep(60)
Path(sys.argv[1]).write_text("finished")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("forkserver") / "forkserver.log"
    running = forkserver.start(log)
    yield running
    running.stop()


def client(script: Path, *args: str, socket_path: str | None, **kwargs) -> subprocess.Popen:
    environment = {**os.environ, "MARK": "from the client"}
    environment.pop(forkserver.SOCKET_VARIABLE, None)
    if socket_path:
        environment[forkserver.SOCKET_VARIABLE] = socket_path
    command = [sys.executable, "-m", "forecastlab.forkserver", str(script), *args]
    return subprocess.Popen(command, env=environment, text=True, **kwargs)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def children_of(server: forkserver.Server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children()


@pytest.mark.parametrize("status", [0, 3])
def test_a_script_runs_with_the_clients_arguments_streams_directory_and_environment(
    server, tmp_path, status
):
    script = write(tmp_path / "script.py", SCRIPT)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        done = client(
            script,
            str(status),
            socket_path=server.socket_path,
            cwd=tmp_path,
            stdout=out,
            stderr=err,
        )
        assert done.wait(timeout=60) == status
    assert (tmp_path / "out").read_text() == f"out ['{status}'] {tmp_path} from the client\n"
    assert (tmp_path / "err").read_text() == "err\n"


def test_the_server_logs_each_jobs_exit_status_and_cost(server, tmp_path):
    script = write(tmp_path / "logged.py", SCRIPT)
    done = client(script, "5", socket_path=server.socket_path, stdout=subprocess.DEVNULL)
    assert done.wait(timeout=60) == 5
    deadline = time.monotonic() + 10
    log = Path(server.log)
    while "logged.py > /dev/null exit 5" not in log.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_without_a_server_the_client_runs_the_script_itself(tmp_path):
    script = write(tmp_path / "script.py", SCRIPT)
    for socket_path in (None, str(tmp_path / "no-server.sock")):
        done = client(script, "4", socket_path=socket_path, cwd=tmp_path, stdout=subprocess.PIPE)
        assert done.wait(timeout=60) == 4
        assert done.stdout.read() == f"out ['4'] {tmp_path} from the client\n"


def test_an_uncaught_exception_shows_its_traceback_and_fails_the_job(server, tmp_path):
    script = write(tmp_path / "failing.py", "raise ValueError('bad input')\n")
    done = client(script, socket_path=server.socket_path, stderr=subprocess.PIPE)
    assert done.wait(timeout=60) == 1
    stderr = done.stderr.read()
    assert "Traceback" in stderr and stderr.endswith("ValueError: bad input\n")


def test_a_model_trained_in_a_forked_child_equals_one_trained_in_a_fresh_process(server, tmp_path):
    script = write(tmp_path / "training.py", TRAINING)
    fresh = digest_in_new_process(dict(os.environ))
    for _ in range(2):  # the second child starts from the same state as the first
        done = client(script, socket_path=server.socket_path, stdout=subprocess.PIPE)
        assert done.wait(timeout=300) == 0
        assert done.stdout.read().split()[-1] == fresh


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_client_takes_its_job_with_it(server, tmp_path, signum):
    script = write(tmp_path / "sleeper.py", SLEEPER)
    marker = tmp_path / "marker"
    job = client(script, str(marker), socket_path=server.socket_path)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (child,) = children_of(server)
    job.send_signal(signum)
    status = job.wait(timeout=30)
    if signum == signal.SIGTERM:
        # The client passes the signal on and exits only once its job has ended.
        assert status == 128 + signum
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    child.wait(timeout=10)
    assert marker.read_text() == "started"
    assert children_of(server) == []


def test_the_server_ends_with_the_process_that_started_it(tmp_path):
    code = (
        "import sys, time; from forecastlab import forkserver; "
        f"print(forkserver.start({str(tmp_path / 'log')!r}).process.pid, flush=True); "
        "time.sleep(60)"
    )
    starter = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    server = psutil.Process(int(starter.stdout.readline()))
    starter.kill()
    starter.wait()
    server.wait(timeout=30)


EXIT_HANDLER = """
import atexit, sys, time
from pathlib import Path
atexit.register(lambda: Path(sys.argv[1]).write_text("exit handler ran"))
started = time.process_time()
while time.process_time() - started < 0.5:  # half a second of CPU to measure
    pass
"""


def test_a_childs_exit_handlers_run_and_its_benchmark_record_is_the_childs_cost(server, tmp_path):
    script = write(tmp_path / "exiting.py", EXIT_HANDLER)
    marker, record = tmp_path / "marker", tmp_path / "benchmarks" / "job.tsv"
    environment = {**os.environ, forkserver.SOCKET_VARIABLE: server.socket_path}
    command = [sys.executable, "-m", "forecastlab.forkserver", "--benchmark", str(record)]
    done = subprocess.run([*command, str(script), str(marker)], env=environment, timeout=60)
    assert done.returncode == 0
    assert marker.read_text() == "exit handler ran"
    header, values = (line.split("\t") for line in record.read_text().splitlines())
    row = dict(zip(header, values, strict=True))
    assert set(row) == {"s", "h:m:s", "max_rss", "cpu_time"}
    # The child's CPU (the server's imports included in its memory, not in its time):
    # the client itself only waits, at a few hundredths of a second.
    assert 0.5 <= float(row["cpu_time"]) <= float(row["s"]) + 0.5
    assert float(row["max_rss"]) > 100  # the server's TensorFlow and Keras, shared


def test_a_failed_job_writes_no_benchmark_record(server, tmp_path):
    script = write(tmp_path / "script.py", SCRIPT)
    record = tmp_path / "job.tsv"
    environment = {**os.environ, forkserver.SOCKET_VARIABLE: server.socket_path}
    command = [sys.executable, "-m", "forecastlab.forkserver", "--benchmark", str(record)]
    done = subprocess.run([*command, str(script), "3"], env=environment, capture_output=True)
    assert done.returncode == 3
    assert not record.exists()


def test_a_thread_started_before_the_fork_is_found_and_refused():
    before = forkserver.other_threads()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        during, refusal = forkserver.other_threads(), forkserver.fork_refusal()
    finally:
        stop.set()
        thread.join()
    assert len(during) == len(before) + 1
    assert refusal.startswith(f"the fork server runs {len(during)} other thread(s)")
    assert forkserver.other_threads() == before


def test_a_server_with_another_thread_refuses_and_the_client_runs_the_script_itself(tmp_path):
    # Started by hand with numpy's OpenBLAS pool on: the server that `start` makes turns
    # it off (forkserver.SINGLE_THREADED).
    socket_path = str(tmp_path / "server.sock")
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    command = [sys.executable, "-m", "forecastlab.forkserver", "--serve", socket_path]
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (open while the server runs)
    serving = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(socket_path):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        script = write(tmp_path / "script.py", SCRIPT)
        done = client(
            script,
            "0",
            socket_path=socket_path,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert done.wait(timeout=120) == 0
        assert done.stdout.read() == f"out ['0'] {tmp_path} from the client\n"
        stderr = done.stderr.read()
        assert re.match(r"forkserver: the fork server runs [1-9]\d* other thread\(s\)", stderr)
        assert stderr.endswith("; running the script here\nerr\n")
    finally:
        serving.terminate()
        serving.wait(timeout=30)
        log.close()
    assert "script.py > " in (tmp_path / "server.log").read_text()
    assert "refused" in (tmp_path / "server.log").read_text()


def test_forkserver_off_runs_every_script_in_its_own_interpreter(tmp_path):
    script = write(tmp_path / "script.py", SCRIPT)
    assert forkserver.disabled({forkserver.SOCKET_VARIABLE: "off"})
    assert not forkserver.disabled({forkserver.SOCKET_VARIABLE: "/tmp/x/server.sock"})
    done = client(script, "0", socket_path="off", cwd=tmp_path, stdout=subprocess.PIPE)
    assert done.wait(timeout=60) == 0
    assert done.stdout.read() == f"out ['0'] {tmp_path} from the client\n"


def test_benchmark_without_a_file_or_script_is_a_usage_error():
    for arguments in (["--benchmark"], ["--benchmark", "job.tsv"]):
        done = subprocess.run(
            [sys.executable, "-m", "forecastlab.forkserver", *arguments],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        assert done.stderr.startswith("usage: python -m forecastlab.forkserver [--benchmark FILE]")
