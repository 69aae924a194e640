"""``traceexec sbatch`` and ``traceexec srun`` on a real single-node Slurm cluster
(slurm_cluster.py: munged, slurmctld, slurmd started here, once for the module).

The site's ``--export=NONE`` drops TRACEPARENT from a job's environment; the
drop-ins carry it inside the job, so the job's own traceexec spans join the
submitting span's trace, at a real receiver and in the local store."""

import os
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import BIN_DIR, TRACEEXEC, Receiver, spans_by_name, traceexec_env  # noqa: E402
from slurm_cluster import PARTITION, Cluster, refused  # noqa: E402

REFUSED = refused()
# one worker runs the module (scripts/test's --dist loadgroup), so one cluster serves it all
pytestmark = [pytest.mark.skipif(bool(REFUSED), reason=REFUSED or "root"),
              pytest.mark.xdist_group("slurm")]
INNER = os.path.join(BIN_DIR, "traceexec")
"""The job's own traceexec, named by its path: --export=NONE leaves no venv on PATH."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("slurm")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    rec = Receiver(tmp_path_factory.mktemp("slurm-receiver"))
    yield rec
    rec.stop()


def _env(cluster, home, collector=None):
    extra = {"TRACEEXEC_WAIT": "1"}
    if collector is not None:
        extra["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:%d" % collector.http_port
    return cluster.env(traceexec_env(home, **extra))


def _start(argv, env):
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def _job_script(path, body, output):
    path.write_text("#!/bin/sh\n#SBATCH --output=%s\n%s\n" % (output, body))
    return str(path)


def _poll(found, what, timeout=60.0):
    """``found()``'s first true answer, asked every 0.1 s for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = found()
        if answer:
            return answer
        time.sleep(0.1)
    raise AssertionError("waited %gs for %s" % (timeout, what))


def _named(collector, name):
    """The one span called ``name`` at the collector, once it arrived."""
    return _poll(lambda: [r for r in collector.spans() if r["name"] == name],
                 "a span %r" % name)[0]


def _side_by_side(tmp_path, env, argv_of):
    """{"traced": (process, started), "bare": ...}: ``argv_of(started)`` run under
    traceexec and bare at once, each once its command wrote its ``started`` file."""
    runs = {}
    for name, prefix in (("traced", TRACEEXEC), ("bare", [])):
        started = tmp_path / (name + ".started")
        runs[name] = (_start(prefix + argv_of(name, started), env), started)
    for proc, started in runs.values():
        _wait_for_file(started, proc)
    return runs


def _stderr_lines(text):
    """srun's stderr lines, sorted, without its word that the job had to
    wait for the node (whether it waits depends on the jobs before it)."""
    import re
    waited = re.compile(r"srun: job \d+ (queued and waiting for resources|"
                        r"has been allocated resources)$")
    return sorted(line for line in text.splitlines() if not waited.match(line))


def _trace_of(records, name):
    found = [r for r in records if r["name"] == name]
    assert len(found) == 1, [r["name"] for r in records]
    return found[0]


def test_sbatch_wait_export_none_joins_the_trace_at_a_collector(cluster, collector, tmp_path):
    body = ('echo "seen=$TRACEPARENT"\n%s --name inner -- true\nexit 3' % INNER)
    traced_out, bare_out = tmp_path / "traced.out", tmp_path / "bare.out"
    traced_script = _job_script(tmp_path / "traced.sh", body, traced_out)
    bare_script = _job_script(tmp_path / "bare.sh", body, bare_out)
    env = _env(cluster, tmp_path / "home", collector)
    traced = _start(TRACEEXEC + ["sbatch", "--wait", "--export=NONE", traced_script], env)
    bare = _start(["sbatch", "--wait", "--export=NONE", bare_script], env)
    traced_status, traced_stdout, traced_err = _finish(traced)
    bare_status, bare_stdout, _ = _finish(bare)
    assert (traced_status, bare_status) == (3, 3), traced_err
    assert traced_stdout.startswith("Submitted batch job ") and traced_stdout.count("\n") == 1
    assert bare_stdout.startswith("Submitted batch job ") and bare_stdout.count("\n") == 1
    job_id = int(traced_stdout.split()[-1])
    assert bare_out.read_text() == "seen=\n"  # what the site's --export=NONE does alone
    seen = traced_out.read_text().split("seen=")[1].split("\n")[0]
    trace_id = seen.split("-")[1]
    records = collector.wait_for(4, trace_id)
    names = spans_by_name(records)
    submit = _trace_of(records, "sbatch traced.sh")
    job = _trace_of(records, "traced.sh")
    summary = _trace_of(records, "slurm job %d" % job_id)
    inner = _trace_of(records, "inner")
    assert len(records) == 4, sorted(names)
    assert submit["parent_span_id"] == ""
    assert job["parent_span_id"] == summary["parent_span_id"] == submit["span_id"]
    assert inner["parent_span_id"] == job["span_id"] and seen.split("-")[2] == job["span_id"]
    assert job["attributes"]["slurm.job.id"] == job_id
    assert job["attributes"]["slurm.job.partition"] == PARTITION
    assert job["attributes"]["slurm.job.nodelist"] == cluster.host
    assert job["attributes"]["host.name"] == os.uname().nodename
    assert job["attributes"]["process.exit.code"] == 3
    assert submit["attributes"]["process.exit.code"] == 3
    facts = summary["attributes"]
    assert facts["slurm.job.state"] == "FAILED" and facts["slurm.job.exit_code"] == "3:0"
    assert facts["slurm.job.partition"] == PARTITION
    assert facts["slurm.job.nodelist"] == cluster.host
    assert facts["slurm.job.queue_wait_s"] >= 0 and facts["slurm.job.run_time_s"] >= 0
    assert summary["status_code"] == 2  # ERROR
    assert summary["resource"] == submit["resource"]  # the same service


def test_sbatch_wait_export_none_records_one_trace_in_the_local_store(cluster, tmp_path):
    home = tmp_path / "home"
    script = _job_script(tmp_path / "ok.sh", "echo args=$1,$2", tmp_path / "ok.out")
    result = subprocess.run(TRACEEXEC + ["sbatch", "--wait", "--export=NONE", "-J", "named",
                                         script, "a", "b c"],
                            env=_env(cluster, home), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok.out").read_text() == "args=a,b c\n"
    from traceexec.store import local as store
    ids = store.trace_ids(str(home))
    assert len(ids) == 1, ids
    records = store.read(str(home), ids[0])
    job_id = int(result.stdout.split()[-1])
    submit = _trace_of(records, "sbatch ok.sh")
    job = _trace_of(records, "named")  # the job's name as Slurm knows it (-J)
    summary = _trace_of(records, "slurm job %d" % job_id)
    assert job["parent_span_id"] == summary["parent_span_id"] == submit["span_id"]
    assert summary["attributes"]["slurm.job.name"] == "named"
    assert "slurm.job.array_task_id" not in job["attributes"]  # not an array job
    assert summary["attributes"]["slurm.job.state"] == "COMPLETED"
    assert job["status_code"] != 2 and summary["status_code"] != 2


def test_sbatch_wrap_without_wait_and_job_name_default(cluster, collector, tmp_path):
    output = tmp_path / "wrap.out"
    env = _env(cluster, tmp_path / "home", collector)
    result = subprocess.run(
        TRACEEXEC + ["sbatch", "--export=NONE", "--output", str(output), "--parsable",
                     "--wrap", 'echo "seen=$TRACEPARENT"'],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    job_id = int(result.stdout.strip())
    # the job runs after sbatch returned: its span arrives when it ends
    summary = _named(collector, "slurm job %d" % job_id)
    records = collector.wait_for(3, summary["trace_id"], timeout=60)
    job = _trace_of(records, "wrap")
    assert job["attributes"]["slurm.job.id"] == job_id
    assert output.read_text() == "seen=00-%s-%s-01\n" % (job["trace_id"], job["span_id"])
    summary = _trace_of(records, "slurm job %d" % job_id)
    assert summary["attributes"]["slurm.job.state"] in ("PENDING", "RUNNING", "COMPLETED",
                                                        "COMPLETING")


def test_srun_export_none_output_status_and_task_span(cluster, collector, tmp_path):
    env = _env(cluster, tmp_path / "home", collector)
    command = ["/bin/sh", "-c", 'echo "seen=$TRACEPARENT"; echo oops >&2; exit 4']
    traced = subprocess.run(TRACEEXEC + ["srun", "--export=NONE"] + command, env=env,
                            capture_output=True, text=True, timeout=120)
    bare = subprocess.run(["srun", "--export=NONE"] + command, env=env,
                          capture_output=True, text=True, timeout=120)
    assert traced.returncode == bare.returncode == 4
    assert bare.stdout == "seen=\n"
    seen = traced.stdout.split("seen=")[1].strip()
    assert traced.stdout == "seen=%s\n" % seen
    assert _stderr_lines(traced.stderr) == _stderr_lines(bare.stderr)
    records = collector.wait_for(2, seen.split("-")[1])
    submit = _trace_of(records, "srun sh")
    task = _trace_of(records, "sh")
    assert task["parent_span_id"] == submit["span_id"] and seen.split("-")[2] == task["span_id"]
    attrs = task["attributes"]
    assert attrs["slurm.task.id"] == 0 and attrs["slurm.step.id"] == 0
    assert attrs["slurm.job.partition"] == PARTITION and attrs["process.exit.code"] == 4
    assert isinstance(attrs["slurm.job.id"], int)


def test_srun_tasks_each_get_a_span_under_the_srun_span(cluster, tmp_path):
    home = tmp_path / "home"
    result = subprocess.run(TRACEEXEC + ["srun", "-n", "2", "--label", "hostname"],
                            env=_env(cluster, home), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    host = os.uname().nodename
    assert sorted(result.stdout.splitlines()) == ["0: " + host, "1: " + host]
    from traceexec.store import local as store
    ids = store.trace_ids(str(home))
    assert len(ids) == 1
    records = store.read(str(home), ids[0])
    submit = _trace_of(records, "srun hostname")
    tasks = [r for r in records if r["name"] == "hostname"]
    assert sorted(t["attributes"]["slurm.task.id"] for t in tasks) == [0, 1]
    assert all(t["parent_span_id"] == submit["span_id"] for t in tasks)


def test_dag_steps_that_run_sbatch_and_srun_put_their_jobs_in_the_dags_trace(
        cluster, collector, tmp_path):
    script = _job_script(tmp_path / "job.sh", "true", tmp_path / "job.out")
    dag = tmp_path / "slurm.yaml"
    dag.write_text("name: slurm\nsteps:\n"
                   "  - name: batch\n    command: sbatch --wait --export=NONE %s\n"
                   "  - name: tasks\n    command: srun --export=NONE -n 2 hostname\n"
                   "    depends: batch\n" % script)
    result = subprocess.run(TRACEEXEC + ["run", str(dag)], capture_output=True, text=True,
                            env=_env(cluster, tmp_path / "home", collector), timeout=120)
    assert result.returncode == 0, result.stderr
    batch = _named(collector, "Step: batch")
    records = collector.wait_for(7, batch["trace_id"])
    tasks = _trace_of(records, "Step: tasks")
    job = _trace_of(records, "job.sh")
    summary = [r for r in records if r["name"].startswith("slurm job ")]
    hosts = [r for r in records if r["name"] == "hostname"]
    assert job["parent_span_id"] == batch["span_id"]
    assert [s["parent_span_id"] for s in summary] == [batch["span_id"]]
    assert summary[0]["attributes"]["slurm.job.state"] == "COMPLETED"
    assert sorted(h["attributes"]["slurm.task.id"] for h in hosts) == [0, 1]
    assert {h["parent_span_id"] for h in hosts} == {tasks["span_id"]}


def _wait_for_file(path, proc):
    """The text of ``path`` once the job wrote it (``proc`` must still run)."""
    def written():
        assert proc.poll() is None, proc.communicate()
        return path.exists() and path.read_text().endswith("\n") and path.read_text().strip()
    return _poll(written, "the job to write %s" % path)


def test_a_signal_to_srun_ends_it_as_it_ends_bare_srun(cluster, tmp_path):
    env = _env(cluster, tmp_path / "home")
    runs = _side_by_side(tmp_path, env, lambda name, started: [
        "srun", "--export=NONE", "/bin/sh", "-c", "echo up > %s; exec sleep 100" % started])
    for proc, _ in runs.values():
        proc.send_signal(signal.SIGTERM)
    statuses = {name: _finish(proc)[0] for name, (proc, _) in runs.items()}
    assert statuses["traced"] == statuses["bare"] != 0, statuses


def test_a_signal_sent_to_the_batch_job_reaches_the_script(cluster, tmp_path):
    env = _env(cluster, tmp_path / "home")

    def submit(name, started):
        return ["sbatch", "--wait", "--export=NONE", _job_script(
            tmp_path / (name + ".sh"), "trap 'echo caught; exit 7' USR1\n"
            "echo $SLURM_JOB_ID > %s\nwhile :; do sleep 0.1; done" % started,
            tmp_path / (name + ".out"))]
    runs = _side_by_side(tmp_path, env, submit)
    for _, started in runs.values():
        subprocess.run(["scancel", "--batch", "--signal=USR1", started.read_text().strip()],
                       env=env, check=True, timeout=60)
    statuses = {name: _finish(proc)[0] for name, (proc, _) in runs.items()}
    assert statuses == {"traced": 7, "bare": 7}
    assert (tmp_path / "traced.out").read_text() == (tmp_path / "bare.out").read_text() \
        == "caught\n"


def test_each_task_of_an_array_job_is_a_span_under_the_submitting_span(cluster, tmp_path):
    home = tmp_path / "home"
    script = _job_script(tmp_path / "array.sh", "echo $SLURM_ARRAY_TASK_ID",
                         tmp_path / "array-%a.out")
    result = subprocess.run(TRACEEXEC + ["sbatch", "--wait", "--array=1-2", script],
                            env=_env(cluster, home), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert [(tmp_path / ("array-%d.out" % i)).read_text() for i in (1, 2)] == ["1\n", "2\n"]
    from traceexec.store import local as store
    ids = store.trace_ids(str(home))
    assert len(ids) == 1, ids
    records = store.read(str(home), ids[0])
    submit = _trace_of(records, "sbatch array.sh")
    tasks = [r for r in records if r["name"] == "array.sh"]
    assert sorted(t["attributes"]["slurm.job.array_task_id"] for t in tasks) == [1, 2]
    assert {t["parent_span_id"] for t in tasks} == {submit["span_id"]}


def test_a_node_without_traceexec_still_runs_the_job_with_the_context(cluster, tmp_path):
    import shutil
    path = "/usr/local/bin:/usr/bin:/bin"
    if shutil.which("traceexec", path=path):
        pytest.skip("traceexec is installed system-wide here: every node has one")
    home = tmp_path / "home"
    env = _env(cluster, home)
    env.update(PATH=path, HOME=str(tmp_path))  # no traceexec on PATH nor in ~/.local/bin
    output = tmp_path / "plain.out"
    script = _job_script(tmp_path / "plain.sh", 'echo "seen=$TRACEPARENT"; exit 5', output)
    result = subprocess.run(TRACEEXEC + ["sbatch", "--wait", script], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 5, result.stderr
    from traceexec.store import local as store
    ids = store.trace_ids(str(home))
    assert len(ids) == 1, ids
    records = store.read(str(home), ids[0])
    submit = _trace_of(records, "sbatch plain.sh")
    assert sorted(r["name"] for r in records) == sorted(
        ["sbatch plain.sh", "slurm job %s" % result.stdout.split()[-1]])
    # the sbatch span stands for the job, which got its context
    assert output.read_text() == "seen=00-%s-%s-01\n" % (submit["trace_id"], submit["span_id"])


def _cancel(jobs, env):
    """scancel ``jobs`` and wait until slurmctld has them all done (none still
    running or completing for the cluster to wait on when it stops)."""
    subprocess.run(["scancel"] + jobs, env=env, timeout=60)
    _poll(lambda: not subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(jobs)],
                                     env=env, capture_output=True, text=True,
                                     timeout=60).stdout.split(),
          "jobs %s to end after scancel" % jobs, timeout=120)


def test_a_signal_to_sbatch_wait_ends_it_as_it_ends_bare_sbatch(cluster, tmp_path):
    env = _env(cluster, tmp_path / "home")

    def submit(name, started):
        return ["sbatch", "--wait", _job_script(
            tmp_path / (name + ".sh"), "echo $SLURM_JOB_ID > %s\nexec sleep 100" % started,
            tmp_path / (name + ".out"))]
    runs = _side_by_side(tmp_path, env, submit)
    try:
        for proc, _ in runs.values():
            proc.send_signal(signal.SIGTERM)
        statuses = {name: _finish(proc) for name, (proc, _) in runs.items()}
    finally:
        _cancel([started.read_text().strip() for _, started in runs.values()], env)
    assert statuses["traced"][0] == statuses["bare"][0] != 0, statuses
    assert statuses["traced"][2] == statuses["bare"][2]  # what sbatch says, if anything
