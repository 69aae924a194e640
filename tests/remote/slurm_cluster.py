"""A single-node Slurm cluster for the tests: munged, slurmctld and slurmd from
Debian's packages (slurm-wlm, munge), each in the foreground under the test,
with a munge key, a slurm.conf and every state file in a temporary directory.
``SLURM_CONF`` in ``Cluster.env`` points the clients at it; no accounting
database (``scontrol show job`` knows a job for MinJobAge seconds).  The node
has 4 CPUs whatever this host has (``config_overrides``): the tests run a
traced and a bare job side by side.  ``Cluster(directory, within=argv)`` runs the
daemons and its own clients under ``argv`` (``nsenter --net=...``, which execs
them): the cluster then lives in that network namespace, on its 127.0.0.1."""

import os
import socket
import subprocess
import time

PARTITION = "debug"


def refused():
    """Why this host cannot run the cluster, or None."""
    if os.geteuid() != 0:
        return "slurmd starts jobs as their users: it must run as root"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONF = """\
ClusterName=traceexec
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge/socket
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerParameters=batch_sched_delay=0
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """munged + slurmctld + slurmd; ``env(base)`` adds SLURM_CONF; ``stop()``."""

    def __init__(self, directory, within=()):
        self.dir = str(directory)
        self.within = list(within)
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.client_conf = os.path.join(self.dir, "client.conf")
        self.procs = []
        for sub in ("munge", "state", "spool", "log"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        os.chmod(self.dir, 0o755)  # munged wants its socket's directories searchable
        text = CONF.format(host=self.host, dir=self.dir, ctld_port=_free_port(),
                           slurmd_port=_free_port(), partition=PARTITION)
        with open(self.conf, "w") as handle:
            handle.write(text)
        # sbatch --wait polls at 2 s, then 4 times longer each time while that is under
        # MinJobAge/2 (sbatch.c): its clients read MinJobAge=4 and poll every 2 s, while
        # slurmctld keeps a finished job for 600 s, so scontrol still finds it.
        with open(self.client_conf, "w") as handle:
            handle.write(text.replace("MinJobAge=600", "MinJobAge=4"))

    def env(self, base=None) -> dict:
        """``base`` (default: ours) with SLURM_CONF for the clients."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = self.client_conf
        return env

    def _start(self, name, argv):
        log = open(os.path.join(self.dir, "log", name + ".out"), "wb")
        env = dict(os.environ, SLURM_CONF=self.conf)
        self.procs.append((name, subprocess.Popen(self.within + argv, stdout=log,
                                                  stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL, env=env)))
        log.close()

    def start(self) -> "Cluster":
        """The daemons started and the node idle; when that fails, none left running
        (a fixture that raises is never torn down)."""
        try:
            self._start_daemons()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_daemons(self) -> None:
        munge = os.path.join(self.dir, "munge")
        subprocess.run(["mungekey", "-c", "-k", os.path.join(munge, "key")], check=True,
                       capture_output=True)
        self._start("munged", ["munged", "-F", "-f", "-S", os.path.join(munge, "socket"),
                               "--key-file", os.path.join(munge, "key"),
                               "--log-file", os.path.join(munge, "log"),
                               "--pid-file", os.path.join(munge, "pid"),
                               "--seed-file", os.path.join(munge, "seed")])
        self._wait(lambda: os.path.exists(os.path.join(munge, "socket")), "munged")
        self._start("slurmctld", ["slurmctld", "-D", "-f", self.conf])
        self._start("slurmd", ["slurmd", "-D", "-f", self.conf])
        self._wait(self._is_idle, "the node to be idle")

    def _is_idle(self) -> bool:
        done = subprocess.run(self.within + ["sinfo", "-h", "-o", "%T"], env=self.env(),
                              capture_output=True, text=True, timeout=30)
        return done.stdout.strip() == "idle"

    def _wait(self, ready, what, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError("%s exited: %s" % (name, self.logs()))
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError("waited %ds for %s: %s" % (seconds, what, self.logs()))

    def logs(self) -> str:
        text = []
        for name in ("munged", "slurmctld", "slurmd"):
            path = os.path.join(self.dir, "log", name + ".out")
            if os.path.exists(path):
                with open(path, "rb") as handle:
                    text.append("%s: %s" % (name, handle.read()[-2000:].decode(errors="replace")))
        return "\n".join(text)

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
