"""Run workflow scripts in forked children of one process that has imported TensorFlow,
Keras and MLflow once, instead of in a fresh interpreter per job.

Importing them costs about 4 s of CPU per process, more than many a job's own work, and
the default pipeline has hundreds of train and verify jobs. A local Snakemake run starts
one server (`start`, from the Snakefile's onstart), and each train and verify job runs a
thin client,

    python -m forecastlab.forkserver workflow/scripts/train.py --windows ...

which hands the server its script, arguments, working directory, environment and
standard streams. The server forks a child that runs the script as `python script ...`
would, from the state of an interpreter that has imported those modules and run nothing
else, and sends its exit status back. Every job is still one Snakemake job with its own
log, outputs and exit status, so adding a seed still reruns only its model's jobs. Without
a server (FORECASTLAB_FORKSERVER unset or not answering: a cluster job, a conda
environment, a script run by hand) the client runs the script itself; so it does when
FORECASTLAB_FORKSERVER=off, which keeps Snakemake from starting one.

A child ends as the interpreter would: its exit handlers run (TensorFlow's autograph
removes its generated files in the temporary folder at exit), then it leaves with
`os._exit`, so that nothing of the server (its sockets, its other children) is touched.
It is forked only from a single-threaded server: a thread that held a lock at the fork
(OpenBLAS's pool, a malloc's background thread) does not exist in the child, which could
then wait on that lock forever. The server starts with those pools off, checks before
every fork, and refuses a request while another thread runs; its client then runs the
script itself. With `--benchmark FILE` the client writes the job's cost, the child's
wall, CPU and peak memory, in the columns of Snakemake's benchmark files (Snakemake's own
`benchmark:` would measure only the waiting client).

A client that is killed takes its job with it: the server terminates a child whose client
has gone, a client that receives SIGTERM, SIGINT or SIGHUP waits for its child to end
before it exits (so no job writes after Snakemake removed its outputs), and children die
with the server, which ends with the Snakemake process that started it.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import importlib
import json
import os
import resource
import runpy
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SOCKET_VARIABLE = "FORECASTLAB_FORKSERVER"
OFF = "off"  # FORECASTLAB_FORKSERVER=off: no server, every job starts its own interpreter
# The server's environment on top of the caller's: no thread pools that start at import
# (numpy's OpenBLAS; pyarrow's jemalloc, imported with TensorFlow), so that it can fork.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
# CPython's own way to run the exit handlers, as the interpreter does when it ends. It is
# internal (not in atexit's documented API), hence the loud check at the server's start.
_run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
# What the train and verify scripts import, the costly part of their start-up. Importing
# runs no TensorFlow operation, so each forked child starts TensorFlow's runtime itself.
PRELOAD = (
    "tensorflow",
    "keras",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",  # 1.2 s: SQLAlchemy and Alembic
    "sqlalchemy.dialects.sqlite",
    "forecastlab.cli",
    "forecastlab.config",
    "forecastlab.evaluation",
    "forecastlab.handcheck",
    "forecastlab.layout",
    "forecastlab.models",
    "forecastlab.modes",
    "forecastlab.plots",
    "forecastlab.tracking",
    "forecastlab.training",
)
_HEADER = 8  # bytes of the request's length, sent with the client's standard streams
_PR_SET_PDEATHSIG = 1


@dataclass
class Server:
    """A running fork server: its process, its socket (in a folder of its own) and the
    log where it records each job's exit status and cost."""

    process: subprocess.Popen
    socket_path: str
    log: Path

    def stop(self) -> None:
        """End the server (and any child still running) and remove its socket."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(Path(self.socket_path).parent, ignore_errors=True)
        if os.environ.get(SOCKET_VARIABLE) == self.socket_path:
            del os.environ[SOCKET_VARIABLE]


def disabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the user turned the server off (FORECASTLAB_FORKSERVER=off)."""
    return environ.get(SOCKET_VARIABLE, "").lower() == OFF


def start(log: str | Path, timeout: float = 30.0) -> Server:
    """Start a server that logs to `log`, wait until it listens, and name its socket in
    this process's environment (FORECASTLAB_FORKSERVER), which jobs started from here
    inherit. It imports PRELOAD after it starts listening: clients wait in its queue."""
    # A socket path may have 107 bytes at most, so it lives in a short temporary folder,
    # private to this user: whoever can connect can run scripts as them.
    socket_path = os.path.join(tempfile.mkdtemp(prefix="forecastlab-"), "server.sock")
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "forecastlab.forkserver", "--serve", socket_path],
            env=os.environ | SINGLE_THREADED,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, socket_path, Path(log))
    deadline = time.monotonic() + timeout
    while not os.path.exists(socket_path):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the fork server did not start; see {log}")
        time.sleep(0.02)
    os.environ[SOCKET_VARIABLE] = socket_path
    return server


def run_script(script: str, argv: list[str]) -> None:
    """Run `script` with `argv` as `python script argv...` would, in this process."""
    sys.argv = [script, *argv]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


def exit_code(error: SystemExit) -> int:
    """The exit status Python gives a SystemExit: its code, 0 for None, 1 for a message
    (which it prints to stderr)."""
    if error.code is None or isinstance(error.code, int):
        return error.code or 0
    print(error.code, file=sys.stderr)
    return 1


# -- the client -------------------------------------------------------------------------


@dataclass
class Ended:
    """How a job ended: its exit status and its cost (CPU seconds, peak memory in MB)."""

    status: int
    cpu_s: float
    max_rss_mb: float


def delegate(script: str, argv: list[str]) -> Ended | None:
    """Run `script` in a child of the server named by FORECASTLAB_FORKSERVER, with this
    process's standard streams, and return how it ended; None when there is no server to
    run it, or it refused to fork (it says why on stderr)."""
    path = os.environ.get(SOCKET_VARIABLE)
    if not path or disabled():
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        return None
    request = json.dumps(
        {
            "script": os.path.abspath(script),
            "argv": argv,
            "cwd": os.getcwd(),
            "environ": dict(os.environ),
        }
    ).encode()
    socket.send_fds(connection, [len(request).to_bytes(_HEADER, "big")], [0, 1, 2])
    connection.sendall(request)

    signals: list[int] = []

    def end_the_job(signum: int, _frame: object) -> None:
        # The server stops the child when this side of the connection closes; its reply
        # then says the child has ended.
        signals.append(signum)
        connection.shutdown(socket.SHUT_WR)

    previous = {
        signum: signal.signal(signum, end_the_job)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    reply = b""
    while chunk := connection.recv(4096):
        reply += chunk
    if not reply:
        print("forkserver: the server ended before the job did", file=sys.stderr)
        return Ended(1, 0.0, 0.0)
    answer = json.loads(reply)
    if "refused" in answer:
        print(f"forkserver: {answer['refused']}; running the script here", file=sys.stderr)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        return None
    status = answer["status"]
    if signals:
        status = -signals[0]
    # -N: the child died of signal N, which a shell reports as 128 + N.
    return Ended(status if status >= 0 else 128 - status, answer["cpu_s"], answer["max_rss_mb"])


# -- the server -------------------------------------------------------------------------


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    """A client's request and its three standard streams."""
    connection.settimeout(10)
    header, fds, _, _ = socket.recv_fds(connection, _HEADER, 3)
    size, request = int.from_bytes(header, "big"), b""
    while len(request) < size:
        chunk = connection.recv(size - len(request))
        if not chunk:
            raise ConnectionError("the client went away mid-request")
        request += chunk
    return json.loads(request), fds


def _run_child(request: dict, fds: list[int]) -> int:
    """In the forked child: become the client's job and run its script."""
    # Die with the server rather than outlive it as an orphan that still writes outputs.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["environ"])
    try:
        run_script(request["script"], request["argv"])
        return 0
    except SystemExit as error:
        return exit_code(error)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _fork(request: dict, fds: list[int], inherited: list[socket.socket]) -> int:
    """Fork a child that runs the request; return its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for sock in inherited:
                sock.close()
            code = _run_child(request, fds)
        finally:
            # As the interpreter ends: the exit handlers, the script's and its modules'.
            _run_exit_handlers()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def other_threads(tasks: Path = Path("/proc/self/task")) -> list[str]:
    """The names of this process's threads but the calling one (Linux: /proc/self/task)."""
    names = []
    for task in sorted(tasks.iterdir()):
        if int(task.name) != threading.get_native_id():
            names.append((task / "comm").read_text().strip())
    return names


def fork_refusal() -> str | None:
    """Why this process must not fork a job now (another thread runs), or None."""
    threads = other_threads()
    if not threads:
        return None
    settings = " ".join(f"{key}={value}" for key, value in SINGLE_THREADED.items())
    return (
        f"the fork server runs {len(threads)} other thread(s) ({', '.join(threads)}) and "
        f"forks only single-threaded (start it with {settings})"
    )


def serve(socket_path: str) -> None:
    """Listen on `socket_path`, import PRELOAD, then fork a child per request until the
    process that started the server ends or sends SIGTERM."""
    if _run_exit_handlers is None:
        raise RuntimeError(
            "this Python has no atexit._run_exitfuncs: the fork server cannot run its "
            "children's exit handlers; set FORECASTLAB_FORKSERVER=off"
        )
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(128)
    started = time.perf_counter()
    for module in PRELOAD:
        importlib.import_module(module)
    # Objects that live as long as the server: the collector need not touch their pages,
    # which children then keep sharing rather than copying.
    gc.collect()
    gc.freeze()
    print(f"forkserver: imported {len(PRELOAD)} modules in {time.perf_counter() - started:.1f} s")
    refusal = fork_refusal()
    if refusal:
        print(f"forkserver: {refusal}: every job will run in its own interpreter")
    sys.stdout.flush()

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C reaches every process of the terminal's group: the jobs end on their own
    # (closing their MLflow runs), the server when Snakemake stops it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, dict] = {}  # pid -> its client's connection, pidfd, script, start
    try:
        while os.getppid() == parent:
            for key, _ in selector.select(timeout=1.0):
                if key.fileobj is listener:
                    _accept(listener, selector, children)
                elif key.data[0] == "client":
                    _client_event(key.data[1], selector, children)
                else:
                    _reap(key.data[1], selector, children)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        listener.close()


def _accept(listener: socket.socket, selector: selectors.BaseSelector, children: dict) -> None:
    connection, _ = listener.accept()
    try:
        request, fds = _receive(connection)
    except (OSError, ValueError) as error:
        print(f"forkserver: a request could not be read: {error}")
        connection.close()
        return
    connection.settimeout(None)
    job = _job_name(request, fds)
    refusal = fork_refusal()
    if refusal:
        print(f"forkserver: {job} refused: {refusal}")
        for fd in fds:
            os.close(fd)
        connection.sendall(json.dumps({"refused": refusal}).encode())
        connection.close()
        return
    inherited = [listener, connection, *(child["connection"] for child in children.values())]
    pid = _fork(request, fds, inherited)
    pidfd = os.pidfd_open(pid)
    selector.register(connection, selectors.EVENT_READ, ("client", pid))
    selector.register(pidfd, selectors.EVENT_READ, ("child", pid))
    children[pid] = {
        "connection": connection,
        "pidfd": pidfd,
        "job": job,
        "started": time.perf_counter(),
    }


def _job_name(request: dict, fds: list[int]) -> str:
    """The script and where the job writes its output (its log, for a Snakemake job),
    as the server's log names the job: `train.py > logs/train/sine/w2/rnn1/seed42.log`."""
    script = os.path.basename(request["script"])
    try:
        output = os.readlink(f"/proc/self/fd/{fds[1]}")
    except OSError:
        return script
    cwd = request["cwd"]
    return f"{script} > {os.path.relpath(output, cwd) if output.startswith(cwd) else output}"


def _client_event(pid: int, selector: selectors.BaseSelector, children: dict) -> None:
    """The client closed its side (it was killed, or passes on a signal): end its job."""
    child = children[pid]
    try:
        gone = not child["connection"].recv(1)
    except OSError:
        gone = True
    if gone:
        selector.unregister(child["connection"])
        os.kill(pid, signal.SIGTERM)


def _reap(pid: int, selector: selectors.BaseSelector, children: dict) -> None:
    """The child ended: tell its client how, and log its cost."""
    child = children.pop(pid)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    selector.unregister(child["pidfd"])
    os.close(child["pidfd"])
    connection = child["connection"]
    if connection.fileno() in selector.get_map():
        selector.unregister(connection)
    cpu = usage.ru_utime + usage.ru_stime
    max_rss_mb = usage.ru_maxrss / 1024  # Linux counts it in KiB
    try:
        reply = {"status": code, "cpu_s": cpu, "max_rss_mb": max_rss_mb}
        connection.sendall(json.dumps(reply).encode())
    except OSError:
        pass  # the client is gone
    connection.close()
    wall = time.perf_counter() - child["started"]
    print(f"forkserver: {child['job']} exit {code}, {cpu:.1f} s CPU, {wall:.1f} s wall")
    sys.stdout.flush()


def write_benchmark(path: str | Path, wall_s: float, ended: Ended) -> None:
    """A job's cost as one row under the column names of Snakemake's benchmark files."""
    minutes, seconds = divmod(int(wall_s), 60)
    hours, minutes = divmod(minutes, 60)
    columns = {
        "s": f"{wall_s:.4f}",
        "h:m:s": f"{hours}:{minutes:02d}:{seconds:02d}",
        "max_rss": f"{ended.max_rss_mb:.2f}",
        "cpu_time": f"{ended.cpu_s:.2f}",
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\t".join(columns) + "\n" + "\t".join(columns.values()) + "\n")


def run_here(script: str, argv: list[str]) -> Ended:
    """Run `script` in this process (no server to fork it) and say what it cost."""
    run_script(script, argv)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Ended(0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def main(argv: list[str] | None = None) -> int:
    """`--serve SOCKET`: be the server; `[--benchmark FILE] SCRIPT ARGS...`: run a script,
    in the server's child if one is named and answers, else here, and with --benchmark
    write the job's cost to FILE when it succeeds."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        serve(argv[1])
        return 0
    benchmark = None
    if argv[:1] == ["--benchmark"]:
        benchmark, argv = (argv[1], argv[2:]) if len(argv) > 1 else (None, [])
    if not argv:
        usage = "usage: python -m forecastlab.forkserver [--benchmark FILE] SCRIPT [ARGS...]"
        print(usage, file=sys.stderr)
        return 2
    started = time.perf_counter()
    ended = delegate(argv[0], argv[1:]) or run_here(argv[0], argv[1:])
    if benchmark and ended.status == 0:
        write_benchmark(benchmark, time.perf_counter() - started, ended)
    return ended.status


if __name__ == "__main__":
    sys.exit(main())
