"""The hosts of the ssh tests, with a receiver: the local host (a network
namespace) runs ``traceexec serve`` on OTLP_PORT; host "a" has traceexec on its
PATH and exports to that receiver; host "b" has none; hosts "c" and "d" have
traceexec and nothing configured (their own stores).

    with open_site(tmp_path, "c", "d") as site:
        site.ssh(site.c, "true")
"""

import contextlib
import os
import subprocess
import sys

from conftest import BIN_DIR, TRACEEXEC, traceexec_env
from hosts import BASE_PATH, Network

OTLP_PORT = 4318  # inside the local namespace: nothing else listens there
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Site:
    def __init__(self, net, receiver_home, local_home):
        self.net = net
        self.receiver_home = receiver_home
        self.receiver_log = receiver_home.parent / "serve.log"
        self.local_home = local_home
        self.a = self.b = self.c = self.d = None

    def env(self):
        return traceexec_env(self.local_home, TRACEEXEC_WAIT="1",
                             OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % OTLP_PORT)

    def endpoint(self, host):
        """The receiver's address on ``host``'s link: reached from every host."""
        return "http://%s.1:%d" % (host.address.rsplit(".", 1)[0], OTLP_PORT)

    def ssh(self, host, *command, **kwargs):
        """``traceexec ssh`` on the local host."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return self.net.run(TRACEEXEC + ["ssh", "-F", self.net.ssh_config, host.address]
                            + list(command), env=self.env(), **kwargs)

    def plain_ssh(self, host, *command):
        return self.net.run(["ssh", "-F", self.net.ssh_config, host.address] + list(command),
                            capture_output=True, text=True, timeout=60)

    def spans(self, trace_id, count):
        """The receiver's spans of ``trace_id``, once ``count`` arrived (or 30 s passed)."""
        return stored(self.receiver_home, trace_id, count)

    def viewer_page(self, trace_id) -> str:
        """The receiver's web viewer's page of ``trace_id``, fetched on the local host."""
        import re
        found = None
        for _ in range(600):  # serve says where its viewer is once it listens
            found = re.search(r"web viewer on (http://\S+/)", self.receiver_log.read_text())
            if found:
                break
            subprocess.run(["sleep", "0.05"])
        assert found, self.receiver_log.read_text()
        fetch = ("import sys, urllib.request\n"
                 "with urllib.request.urlopen(sys.argv[1], timeout=60) as answer:\n"
                 "    sys.stdout.write(answer.read(1 << 24).decode())\n")
        done = self.net.run([sys.executable, "-c", fetch, found.group(1) + "trace/" + trace_id],
                            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout


def stored(home, trace_id, count):
    """The spans of ``trace_id`` in the store of ``home``, once ``count`` are there
    (or 30 s passed)."""
    from traceexec.store import local as store
    records = []
    for _ in range(600):
        try:
            records = store.read(str(home), trace_id)
        except store.UnknownTrace:
            records = []
        if len(records) >= count:
            break
        subprocess.run(["sleep", "0.05"])
    return records


def by_name(records):
    return {record["name"]: record for record in records}


def _add_a(site, tmp):
    remote_home = tmp / "remote-a"
    remote_home.mkdir()
    site.a = site.net.add_host("a", path=BIN_DIR + ":" + BASE_PATH, env={
        "TRACEEXEC_HOME": str(remote_home), "TRACEEXEC_WAIT": "1",
        # the receiver on the local end of a's link, 10.203.N.1 (hosts.Network)
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.203.%d.1:%d" % (len(site.net.hosts) + 1,
                                                                  OTLP_PORT),
        "PYTHONPATH": CHECKOUT})


def _add_b(site, tmp):
    empty_home = tmp / "home-b"  # no ~/.local/bin/traceexec either
    empty_home.mkdir()
    site.b = site.net.add_host("b", env={"HOME": str(empty_home)})


def add_unconfigured(net, name, home):
    """Host ``name`` with traceexec, no collector and its store in ``home``."""
    home.mkdir()
    return net.add_host(name, path=BIN_DIR + ":" + BASE_PATH, env={
        "TRACEEXEC_HOME": str(home), "PYTHONPATH": CHECKOUT})


def _adding_unconfigured(name):
    def add(site, tmp):
        setattr(site, name + "_home", tmp / ("remote-" + name))
        setattr(site, name, add_unconfigured(site.net, name, tmp / ("remote-" + name)))
    return add


HOSTS = {"a": _add_a, "b": _add_b, "c": _adding_unconfigured("c"),
         "d": _adding_unconfigured("d")}
"""How to add each host, by name."""


@contextlib.contextmanager
def open_site(tmp, *names):
    """The local host with its receiver and the hosts ``names`` (default: all)."""
    receiver_home, local_home = tmp / "receiver", tmp / "local"
    receiver_home.mkdir()
    local_home.mkdir()
    with Network(tmp) as net:
        receiver = net.popen(TRACEEXEC + ["serve", "--http", "0.0.0.0:%d" % OTLP_PORT,
                                          "--grpc", "127.0.0.1:4317", "--web", "127.0.0.1:0"],
                             env=traceexec_env(receiver_home), stdout=subprocess.DEVNULL,
                             stderr=open(tmp / "serve.log", "w"))  # Site.receiver_log
        try:
            site = Site(net, receiver_home, local_home)
            for name in names or sorted(HOSTS):
                HOSTS[name](site, tmp)
            yield site
        finally:
            receiver.terminate()
            receiver.wait()
