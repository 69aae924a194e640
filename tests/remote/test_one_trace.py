"""Issue 22's "done when" as one test: a DAG whose steps run on two other hosts
(remote_site.py: network namespaces with a real sshd, traceexec installed there
and nothing configured), on a Slurm cluster (slurm_cluster.py, its daemons in the
local host's namespace, where the DAG runs) with ``sbatch --wait --export=NONE``
and ``srun``, and call an HTTP service instrumented with the OpenTelemetry SDK
(traced_service.py) is one trace: at a collector (``traceexec serve``) named in
the environment or in the DAG's ``otel:`` block, and with no collector in the
local store; ``traceexec show`` and the viewer's page show every span of it."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import TRACEEXEC, traceexec_env  # noqa: E402
from hosts import namespaces_refused  # noqa: E402
from remote_site import by_name, open_site, stored  # noqa: E402
from slurm_cluster import Cluster, refused  # noqa: E402

REFUSED = namespaces_refused() or refused()
# one worker runs the Slurm modules (scripts/test's --dist loadgroup), one cluster at a time
pytestmark = [pytest.mark.skipif(bool(REFUSED), reason=REFUSED or "root, namespaces"),
              pytest.mark.xdist_group("slurm")]

DAG = """\
steps:
  - name: on-c
    type: ssh
    with: {host: %(c)s, user: root, key: %(key)s, known_host_file: %(known)s}
    command: true on-c
  - name: on-d
    type: ssh
    with: {host: %(d)s, user: root, key: %(key)s, known_host_file: %(known)s}
    command: echo on-d
  - name: batch
    command: sbatch --wait --export=NONE %(job)s
  - name: tasks
    command: srun --export=NONE hostname
  - name: call
    type: http
    with: {silent: true}
    command: GET http://127.0.0.1:%(port)d/items
"""
SPANS = 12  # the DAG's, 5 steps', the remote true and echo, the job's and its
# summary "slurm job N", the srun task's hostname, the service's "handle /items"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with open_site(tmp_path_factory.mktemp("one-trace"), "c", "d") as opened:
        yield opened


@pytest.fixture(scope="module")
def cluster(site, tmp_path_factory):
    """Slurm on the local host: its daemons and clients in the local namespace,
    on that namespace's 127.0.0.1."""
    running = Cluster(tmp_path_factory.mktemp("slurm"), within=site.net.within_network).start()
    yield running
    running.stop()


@pytest.mark.parametrize("where", ["collector", "otel-block", "store"])
def test_a_dag_on_two_hosts_and_slurm_calling_a_service_is_one_trace(
        site, cluster, tmp_path, where):
    from traceexec.store import local as store
    home = tmp_path / "home"
    home.mkdir()
    trace_id, parent = os.urandom(16).hex(), "6" * 16
    env = cluster.env(traceexec_env(home, TRACEEXEC_WAIT="1",
                                    TRACEPARENT="00-%s-%s-01" % (trace_id, parent)))
    endpoint = site.endpoint(site.c)
    if where == "collector":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    job = tmp_path / "job.sh"
    job.write_text("#!/bin/sh\n#SBATCH --output=%s\ntrue\n" % (tmp_path / "job.out"))
    service = site.net.popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                           "traced_service.py"),
                              "traceexec" if where == "store" else endpoint + "/v1/traces"],
                             env=env, stdout=subprocess.PIPE, text=True)
    try:
        port = int(service.stdout.readline())
        dag = tmp_path / "one-trace.yaml"
        dag.write_text(("otel: {enabled: true, endpoint: %s}\n" % endpoint
                        if where == "otel-block" else "")
                       + DAG % dict(c=site.c.address, d=site.d.address, port=port, job=job,
                                    key=site.net.user_key, known=site.net.known_hosts))
        done = site.net.run(TRACEEXEC + ["run", str(dag)], env=env, capture_output=True,
                            text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        shown_home = home if where == "store" else site.receiver_home
        records = stored(shown_home, trace_id, SPANS)  # the service's span comes as it answers
    finally:
        service.kill()
        service.wait()
    spans = by_name(records)
    assert len(records) == SPANS, sorted(spans)
    ids = {r["span_id"] for r in records}
    roots = [r for r in records if r["parent_span_id"] not in ids]
    assert [r["parent_span_id"] for r in roots] == [parent]  # one tree
    assert spans["true"]["parent_span_id"] == spans["Step: on-c"]["span_id"]
    assert spans["echo"]["parent_span_id"] == spans["Step: on-d"]["span_id"]
    for name in ("true", "echo"):
        assert spans[name]["attributes"]["host.name"] == os.uname().nodename
    batch = spans["Step: batch"]
    summary = next(r for r in records if r["name"].startswith("slurm job "))
    job_id = summary["attributes"]["slurm.job.id"]
    assert summary["name"] == "slurm job %d" % job_id
    assert spans["job.sh"]["parent_span_id"] == summary["parent_span_id"] == batch["span_id"]
    assert spans["job.sh"]["attributes"]["slurm.job.id"] == job_id
    assert summary["attributes"]["slurm.job.state"] == "COMPLETED"
    assert spans["hostname"]["parent_span_id"] == spans["Step: tasks"]["span_id"]
    assert spans["hostname"]["attributes"]["slurm.task.id"] == 0
    assert spans["handle /items"]["parent_span_id"] == spans["Step: call"]["span_id"]
    assert spans["Step: call"]["attributes"]["http.response.status_code"] == 200
    if where != "store":  # sent there by c, d and the job, not kept in a store of theirs
        for other_home in (site.c_home, site.d_home, home):
            with pytest.raises(store.UnknownTrace):
                store.read(str(other_home), trace_id)
    # as wide as every name needs: at 80 columns (COLUMNS in pytest-xdist's workers) show
    # cuts "   └─ handle /items" to fit
    shown = site.net.run(TRACEEXEC + ["show", trace_id],
                         env=traceexec_env(shown_home, COLUMNS="160"),
                         capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    page = tmp_path / "trace.html"  # the viewer's page, as a file
    drawn = site.net.run(TRACEEXEC + ["show", "--html", str(page), trace_id],
                         env=traceexec_env(shown_home), capture_output=True, text=True,
                         timeout=60)
    assert drawn.returncode == 0, drawn.stderr
    pages = [page.read_text()]
    if where != "store":  # and the collector's own viewer, over HTTP
        pages.append(site.viewer_page(trace_id))
    for name in spans:
        assert name in shown.stdout, shown.stdout
        for text in pages:
            assert name in text
