"""Other hosts for the tests: network namespaces joined by veth pairs, a real
OpenSSH server on each remote one (config, host key, user key and known_hosts
made here; host-key checking stays on).

    with Network(tmp_path) as net:
        a = net.add_host("a", path=venv_bin)   # traceexec on its PATH
        net.run(["traceexec", "ssh", "-F", net.ssh_config, a.address, "true"])

The local host is a namespace too, so every address lives inside a namespace.
"""

import os
import shutil
import subprocess
import uuid

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def namespaces_refused() -> str:
    """Why this kernel or user cannot make network namespaces ("" when it can)."""
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    name = "te-probe-" + uuid.uuid4().hex[:8]
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode:
        return "the kernel refuses network namespaces: " + made.stderr.strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return ""


def _ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


class Host:
    def __init__(self, name, namespace, address, sshd):
        self.name = name
        self.namespace = namespace
        self.address = address
        self.sshd = sshd


class Network:
    """A local namespace and remote ones, each remote host at 10.203.N.2 with
    the local end of its link at 10.203.N.1."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.tag = uuid.uuid4().hex[:6]
        self.local = "te-%s-local" % self.tag
        self.hosts = []
        self.ssh_config = str(tmp_path / "ssh_config")
        self.known_hosts = tmp_path / "known_hosts"
        self.user_key = tmp_path / "id_ed25519"

    def __enter__(self):
        _ip("netns", "add", self.local)
        self.exec_in(self.local, ["ip", "link", "set", "lo", "up"])
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.user_key)],
                       check=True)
        self.known_hosts.write_text("")
        return self

    def __exit__(self, *exc):
        for host in self.hosts:
            if host.sshd.poll() is None:
                host.sshd.kill()
            host.sshd.wait()
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.local], capture_output=True)

    @staticmethod
    def exec_in(namespace, argv, **kwargs):
        return subprocess.run(["ip", "netns", "exec", namespace] + argv, check=True,
                              capture_output=True, **kwargs)

    def add_host(self, name, path=BASE_PATH, env=None) -> Host:
        """A remote host running sshd; ``path`` is PATH for its sessions, ``env``
        more variables set by its sshd (``SetEnv``)."""
        n = len(self.hosts) + 1
        namespace = "te-%s-%s" % (self.tag, name)
        address = "10.203.%d.2" % n
        here, there = "te%s%dl" % (self.tag, n), "te%s%dr" % (self.tag, n)
        _ip("netns", "add", namespace)
        _ip("link", "add", here, "netns", self.local, "type", "veth", "peer", "name", there,
            "netns", namespace)
        self.exec_in(self.local, ["ip", "addr", "add", "10.203.%d.1/24" % n, "dev", here])
        self.exec_in(self.local, ["ip", "link", "set", here, "up"])
        self.exec_in(namespace, ["ip", "addr", "add", address + "/24", "dev", there])
        self.exec_in(namespace, ["ip", "link", "set", there, "up"])
        self.exec_in(namespace, ["ip", "link", "set", "lo", "up"])
        # every address of the local host (a collector on another link's end) is reachable
        self.exec_in(namespace, ["ip", "route", "add", "default", "via", "10.203.%d.1" % n])
        folder = self.dir / ("host-" + name)
        folder.mkdir()
        key = folder / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        authorized = folder / "authorized_keys"
        authorized.write_text(self.user_key.with_suffix(".pub").read_text())
        settings = {"PATH": path}
        settings.update(env or {})
        config = folder / "sshd_config"
        config.write_text("\n".join([
            "ListenAddress %s" % address, "Port 22", "HostKey %s" % key,
            "PidFile none", "AuthorizedKeysFile %s" % authorized, "StrictModes no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin prohibit-password", "PermitUserEnvironment no",
            "SetEnv %s" % " ".join('%s="%s"' % item for item in settings.items()),
        ]) + "\n")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation
        sshd = subprocess.Popen(["ip", "netns", "exec", namespace, SSHD, "-D", "-e",
                                 "-f", str(config)],
                                stdout=subprocess.DEVNULL, stderr=open(folder / "sshd.log", "w"))
        with open(self.known_hosts, "a") as known:
            known.write("%s %s" % (address, key.with_suffix(".pub").read_text()))
        self._write_ssh_config()
        host = Host(name, namespace, address, sshd)
        self.hosts.append(host)
        self._wait_listening(namespace, address)
        return host

    def _wait_listening(self, namespace, address):
        """Until sshd answers (ssh-keyscan retries the connection itself)."""
        for _ in range(200):
            scan = subprocess.run(self.within + ["ssh-keyscan", "-T", "5", "-t", "ed25519",
                                                 address], capture_output=True)
            if scan.stdout:
                return
            subprocess.run(["sleep", "0.05"])
        raise AssertionError("sshd did not start on %s" % address)

    def _write_ssh_config(self):
        with open(self.ssh_config, "w") as config:
            config.write("\n".join([
                "Host *", "  User root", "  IdentityFile %s" % self.user_key,
                "  IdentitiesOnly yes", "  UserKnownHostsFile %s" % self.known_hosts,
                "  StrictHostKeyChecking yes", "  BatchMode yes", "  LogLevel ERROR",
            ]) + "\n")

    @property
    def within(self) -> list:
        """The words that run a command on the local host (the local namespace)."""
        return ["ip", "netns", "exec", self.local]

    @property
    def within_network(self) -> list:
        """As ``within``, but joining the local namespace's network alone: the system's
        /sys stays (``ip netns exec`` mounts one without /sys/fs/cgroup, and slurmd
        refuses to start without it)."""
        return ["nsenter", "--net=/run/netns/" + self.local]

    def popen(self, argv, **kwargs):
        """Start ``argv`` on the local host."""
        return subprocess.Popen(self.within + argv, **kwargs)

    def run(self, argv, **kwargs):
        return subprocess.run(self.within + argv, **kwargs)

    def session_processes(self, host) -> list:
        """The pids of sshd's per-connection processes on ``host`` (not its listener)."""
        found = []
        parents = [host.sshd.pid]
        while parents:
            parent = parents.pop()
            children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True,
                                      text=True).stdout.split()
            for pid in map(int, children):
                parents.append(pid)
                try:
                    with open("/proc/%d/comm" % pid) as comm:
                        name = comm.read().strip()
                except OSError:
                    continue
                if name.startswith("sshd") and pid != host.sshd.pid:
                    found.append(pid)
        return found
