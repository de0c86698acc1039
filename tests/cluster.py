"""A real single-node SLURM cluster and PostgreSQL on 127.0.0.1, for tests/test_cluster.py.

Root on Debian only: the packages come from Debian (`apt-get`), the daemons run from a
temporary folder and are stopped by process id. SLURM's client commands inside a job
(the slurm-jobstep plugin's `srun`) drop SLURM_* variables, SLURM_CONF included, so the
configuration goes where they look by default, /etc/slurm/slurm.conf; a file already
there is put back afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port

PACKAGES = ["slurm-wlm", "munge", "postgresql"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")
PARTITION = "main"
# Finished jobs stay visible to squeue this long (the profile's status command).
MIN_JOB_AGE = 600
DAEMONS = {"munged", "slurmctld", "slurmd", "slurmstepd", "postgres"}


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed")
    return found[-1]


def install_packages() -> None:
    """apt-get install the packages once (quietly, no daemon started by the install)."""
    with contextlib.suppress(FileNotFoundError):
        if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "psql")):
            postgres_bin("initdb")
            return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian's maintainer scripts start the services they install unless this says no.
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        ):
            result = subprocess.run(command, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    finally:
        if ours:
            policy.unlink()


def session_processes(sessions: set[int]) -> list[str]:
    """'pid command' of every live process in one of `sessions` (by session id)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[3]) in sessions:
                found.append(f"{stat.parent.name} {text[text.index('(') + 1 : text.rindex(')')]}")
    return found


def daemon_processes() -> list[str]:
    """'pid command' of every live munged, SLURM or PostgreSQL process."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() in DAEMONS:
                found.append(f"{comm.parent.name} {comm.read_text().strip()}")
    return found


def wait_until(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} not ready within {seconds} s")


@dataclass
class Cluster:
    root: Path
    pg_port: int
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, name: str, command: list[str], **popen) -> subprocess.Popen:
        """Start `command` in a session of its own, so that it and its children stop together."""
        log = open(self.root / f"{name}.out", "w")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
        log.close()
        self.processes.append(process)
        return process

    def stop_all(self) -> list[str]:
        """Stop every process started here, newest first, by process (group) id; return
        what is still alive afterwards (nothing, unless a process resisted SIGKILL)."""
        sessions = {p.pid for p in self.processes}
        for process in reversed(self.processes):
            # PostgreSQL's "fast" shutdown is SIGINT; the others stop on SIGTERM.
            sig = signal.SIGINT if process.args[0].endswith("postgres") else signal.SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        deadline = time.monotonic() + 15
        while session_processes(sessions) and time.monotonic() < deadline:
            time.sleep(0.5)
        for line in session_processes(sessions):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        time.sleep(0.5)
        return session_processes(sessions)

    def psql(self, query: str, database: str = "mlflow") -> list[list[str]]:
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "mlflow", "-d", database]
            + ["-AtF", "\t", "-c", query],
            capture_output=True,
            text=True,
            check=True,
        )
        return [line.split("\t") for line in result.stdout.splitlines()]

    def jobs(self) -> dict[str, str]:
        """SLURM job id -> state of every job slurmctld still knows (MinJobAge)."""
        result = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%i %T"], capture_output=True, text=True, check=True
        )
        return dict(line.split() for line in result.stdout.splitlines())


def slurm_conf(root: Path, ctld_port: int, d_port: int) -> str:
    """One node (this machine's CPUs and memory, as `slurmd -C` sees them) and partition."""
    probe = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True)
    hardware = probe.stdout.splitlines()[0].split(maxsplit=1)[1]  # after NodeName=<host>
    return f"""\
ClusterName=forecastlab
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/slurmctld
SlurmdSpoolDir={root}/slurmd
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
NodeName=node1 NodeAddr=127.0.0.1 NodeHostname=localhost {hardware} State=UNKNOWN
PartitionName={PARTITION} Nodes=node1 Default=YES MaxTime=INFINITE State=UP
"""


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def single_node_cluster() -> Iterator[Cluster]:
    """munged, slurmctld + slurmd and PostgreSQL (database owner `mlflow`, trust auth,
    no database yet) on 127.0.0.1; everything stopped on exit."""
    install_packages()
    root = Path(tempfile.mkdtemp(prefix="forecastlab-cluster-"))
    root.chmod(0o755)  # PostgreSQL, which refuses to run as root, has a folder inside
    cluster = Cluster(root, free_port())
    previous_conf = SLURM_CONF.read_bytes() if SLURM_CONF.exists() else None
    try:
        subprocess.run(["mungekey", "-c", "-k", str(root / "munge.key")], check=True)
        cluster.start(
            "munged",
            ["munged", "--foreground", "--force", f"--socket={root}/munge.socket"]
            + [f"--key-file={root}/munge.key", f"--pid-file={root}/munged.pid"]
            + [f"--seed-file={root}/munged.seed", f"--log-file={root}/munged.log"],
        )
        wait_until(lambda: (root / "munge.socket").exists(), "munged")

        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(slurm_conf(root, free_port(), free_port()))
        cluster.start("slurmctld", ["slurmctld", "-D"])
        cluster.start("slurmd", ["slurmd", "-D", "-N", "node1"])

        def node_idle() -> bool:
            info = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
            return info.returncode == 0 and info.stdout.strip() == "idle"

        wait_until(node_idle, "the SLURM node")

        pg_root = root / "postgres"
        pg_root.mkdir()
        shutil.chown(pg_root, "postgres", "postgres")
        data = pg_root / "data"
        subprocess.run(
            [postgres_bin("initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8"],
            user="postgres",
            capture_output=True,
            check=True,
        )
        cluster.start(
            "postgres",
            [postgres_bin("postgres"), "-D", str(data), "-p", str(cluster.pg_port)]
            + ["-k", str(pg_root), "-c", "listen_addresses=127.0.0.1"],
            user="postgres",
            group="postgres",
        )
        wait_until(lambda: accepts(cluster.pg_port), "PostgreSQL")
        yield cluster
    finally:
        left = cluster.stop_all()
        if previous_conf is None:
            SLURM_CONF.unlink(missing_ok=True)
        else:
            SLURM_CONF.write_bytes(previous_conf)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"still running after the cluster stopped: {left}"
