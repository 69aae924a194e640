"""The Slurm carriers without a cluster: sbatch/srun command lines split as Slurm
reads them, the batch script run by a real sh as slurmstepd would run it, and
scontrol's job record read into attributes."""

import os
import signal
import subprocess

import pytest

from traceexec.remote import slurmargs, slurmjob, slurmscript, slurmsubmit

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize("kind, args, operands, values", [
    ("sbatch", ["-p", "debug", "job.sh", "-v"], ["job.sh", "-v"], {"partition": "debug"}),
    ("sbatch", ["-pdebug", "-W", "job.sh"], ["job.sh"], {"partition": "debug"}),
    ("sbatch", ["--part=debug", "--export", "NONE", "x"], ["x"],
     {"partition": "debug", "export": "NONE"}),
    ("sbatch", ["-HJ", "n", "--wrap", "echo hi"], [], {"job-name": "n", "wrap": "echo hi"}),
    ("sbatch", ["--parsable", "--", "job.sh"], ["job.sh"], {}),
    ("srun", ["-n2", "-l", "hostname", "-n", "3"], ["hostname", "-n", "3"], {"ntasks": "2"}),
    ("srun", ["-W", "5", "-K", "true"], ["true"], {"wait": "5"}),
    ("srun", ["-lI5", "-K1", "-lN", "1", "x"], ["x"], {"nodes": "1"}),
    ("srun", ["--export=NONE", "-o", "f", "/bin/true"], ["/bin/true"],
     {"export": "NONE", "output": "f"}),
])
def test_split_reads_options_as_slurm_does(kind, args, operands, values):
    line = slurmargs.split(kind, args)
    assert line.operands == operands
    for name, value in values.items():
        assert line.value(name) == value, name
    assert line.words() + line.operands == args


def test_wrap_is_left_out_of_the_words_when_asked():
    line = slurmargs.split("sbatch", ["-p", "q", "--wrap", "x", "--wrap=y", "-W"])
    assert line.words(leave_out={"wrap"}) == ["-p", "q", "-W"]
    assert line.value("wrap") == "y" and "wait" in line.names


def test_help_usage_and_version_submit_nothing():
    assert not slurmargs.split("sbatch", ["--help"]).submits()
    assert not slurmargs.split("srun", ["-V"]).submits()
    assert slurmargs.split("sbatch", ["-W", "job.sh"]).submits()


def _run_batch(tmp_path, script: bytes, args=(), env_extra=None):
    text = slurmscript.batch_script(script, {"TRACEPARENT": TP}, "", job_name="job.sh")
    batch = tmp_path / "slurm_script"
    batch.write_bytes(text)
    batch.chmod(0o700)
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), "SLURM_JOB_ID": "7",
           "SLURM_JOB_NAME": "job.sh"}
    env.update(env_extra or {})
    done = subprocess.run([str(batch)] + list(args), env=env, capture_output=True,
                          timeout=60)
    return text, done, tmp


def test_the_batch_script_runs_the_original_with_its_interpreter_args_and_context(tmp_path):
    original = (b"#!/bin/sh -e\n#SBATCH -p debug\n\n# a comment\n"
                b"echo \"$TRACEPARENT|$1|$2\"\n"
                b"case $- in *e*) echo errexit;; esac\nexit 5\n")
    text, done, tmp = _run_batch(tmp_path, original, ["a", "b c"])
    assert done.returncode == 5, done.stderr
    assert done.stdout == ("%s|a|b c\nerrexit\n" % TP).encode()
    assert done.stderr == b""
    assert os.listdir(tmp) == []  # the copy is removed before the job runs
    head = text.split(b"# traceexec sbatch:")[0]
    assert head == b"#!/bin/sh\n#SBATCH --job-name=job.sh\n#SBATCH -p debug\n\n# a comment\n"


def test_the_batch_script_keeps_bytes_and_lines_like_its_end_marker(tmp_path):
    original = (b"#!/bin/sh\ncat <<'EOF'\n$HOME `x` \\ \xff\nTRACEEXEC_JOB_0\nEOF\n")
    _, done, _ = _run_batch(tmp_path, original)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"$HOME `x` \\ \xff\nTRACEEXEC_JOB_0\n"


def test_a_signal_ends_the_job_as_it_ends_the_script(tmp_path):
    _, done, _ = _run_batch(tmp_path, b"#!/bin/sh\nkill -TERM $$\n")
    assert done.returncode == -signal.SIGTERM


@pytest.mark.parametrize("script", [b"echo no interpreter\n", b"#!/bin/sh\r\necho\r\n",
                                    b"#!/bin/sh\necho \0\n", b"#!\n"])
def test_scripts_sbatch_refuses_are_left_to_it(script):
    with pytest.raises(slurmscript.NotWrapped):
        slurmscript.batch_script(script, {"TRACEPARENT": TP}, "")


def test_an_endpoint_with_a_password_is_not_carried():
    values = slurmscript.carried_settings({
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://u:secret@collector:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces",
        "TRACEEXEC_HOME": "/h"})
    assert "secret" not in " ".join(values)
    assert values[:3] == ["/h", "", "http://collector:4318/v1/traces"]


def test_the_srun_step_sets_the_context_and_execs_the_command():
    argv = slurmscript.srun_argv(["sh", "-c", 'echo "$TRACEPARENT $0 $1"', "x y", "z"],
                                 {"TRACEPARENT": TP}, "")
    done = subprocess.run(argv, env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                          timeout=60)
    assert done.stdout.decode() == "%s x y z\n" % TP and done.returncode == 0


def test_submission_turns_wrap_and_stdin_into_a_script_on_stdin(tmp_path):
    wrap = slurmsubmit.submission("sbatch", ["-p", "q", "--wrap", "hostname"],
                                  {"TRACEPARENT": TP}, "")
    assert wrap.argv == ["sbatch", "-p", "q", "/dev/stdin"] and wrap.wrapped
    assert b"#SBATCH --job-name=wrap\n" in wrap.stdin and b"\nhostname\n" in wrap.stdin
    piped = slurmsubmit.submission("sbatch", ["-W"], {"TRACEPARENT": TP}, "",
                                   read_stdin=lambda: b"#!/bin/sh\ntrue\n")
    assert piped.argv == ["sbatch", "-W", "/dev/stdin"]
    assert b"#SBATCH --job-name=sbatch\n" in piped.stdin
    refused = slurmsubmit.submission("sbatch", [], {}, "", read_stdin=lambda: b"no\n")
    assert refused.argv == ["sbatch"] and refused.stdin == b"no\n" and not refused.wrapped
    (tmp_path / "j.sh").write_bytes(b"#!/bin/sh\n")
    ended = slurmsubmit.submission("sbatch", ["-W", "--", str(tmp_path / "j.sh"), "a"], {}, "")
    assert ended.argv == ["sbatch", "-W", "--", "/dev/stdin", "a"] and ended.wrapped
    missing = slurmsubmit.submission("sbatch", [str(tmp_path / "none.sh")], {}, "")
    assert missing.argv == ["sbatch", str(tmp_path / "none.sh")] and missing.stdin is None


def test_a_job_record_becomes_attributes():
    line = ("JobId=12 JobName=my job UserId=root(0) JobState=COMPLETED Reason=None "
            "ExitCode=0:0 SubmitTime=2026-12-07T08:51:07 StartTime=2026-12-07T08:51:10 "
            "EndTime=2026-12-07T08:52:10 Partition=debug AllocNode:Sid=vm:96 "
            "NodeList=vm[1-2] Command=/x/job.sh a b")
    fields = slurmjob.parse_record(line)
    assert fields["Command"] == "/x/job.sh a b" and fields["AllocNode:Sid"] == "vm:96"
    assert slurmjob.attributes(fields) == {
        "slurm.job.id": 12, "slurm.job.name": "my job", "slurm.job.partition": "debug",
        "slurm.job.nodelist": "vm[1-2]", "slurm.job.state": "COMPLETED",
        "slurm.job.exit_code": "0:0", "slurm.job.queue_wait_s": 3,
        "slurm.job.run_time_s": 60}
    pending = slurmjob.attributes(slurmjob.parse_record(
        "JobId=13 JobState=PENDING StartTime=2027-01-01T00:00:00 SubmitTime=2026-12-07T08:51:07"))
    assert "slurm.job.queue_wait_s" not in pending


@pytest.mark.parametrize("output, job", [
    (b"Submitted batch job 17\n", ("17", None)), (b"17\n", ("17", None)),
    (b"17;cluster2\n", ("17", "cluster2")),
    (b"Submitted batch job 9 on cluster c\n", ("9", "c")), (b"sbatch: error: x\n", None)])
def test_the_job_id_and_cluster_are_read_from_sbatch_output(output, job):
    assert slurmjob.submitted_id(output) == job


def test_scontrol_asks_the_cluster_that_took_the_job(tmp_path):
    said = tmp_path / "said"
    scontrol = tmp_path / "scontrol"
    scontrol.write_text('#!/bin/sh\necho "$*" > %s\necho JobId=9 JobState=PENDING\n' % said)
    scontrol.chmod(0o755)
    environ = {"TRACEEXEC_SCONTROL": str(scontrol)}
    assert slurmjob.show_job("9", environ, cluster="c2")["JobState"] == "PENDING"
    assert said.read_text() == "-M c2 show job -o 9\n"
    slurmjob.show_job("9", environ)
    assert said.read_text() == "show job -o 9\n"


def test_a_tmpdir_that_cannot_be_written_falls_back_and_leaves_nothing(tmp_path):
    text, done, _ = _run_batch(tmp_path, b"#!/bin/sh\necho ran \"$1\"\n", ["x"],
                               {"TMPDIR": str(tmp_path / "missing"), "HOME": str(tmp_path)})
    assert (done.returncode, done.stdout, done.stderr) == (0, b"ran x\n", b"")
    assert not [p for p in os.listdir(tmp_path) if p.startswith("traceexec-job.")]


def test_a_script_name_never_breaks_the_header_it_is_written_into(tmp_path):
    text = slurmscript.batch_script(b"#!/bin/sh\n#SBATCH -p q\ntrue\n", {}, "",
                                    job_name="a\nb c'd$(x).sh")
    assert text.split(b"\n")[1:3] == [b"#SBATCH --job-name=a_b_c_d__x_.sh", b"#SBATCH -p q"]


def test_what_scontrol_answers_is_read_up_to_a_bound(tmp_path):
    endless = tmp_path / "scontrol"
    endless.write_text("#!/bin/sh\nprintf 'JobId=5 JobState=RUNNING Comment='\n"
                       "exec yes x | tr -d '\\n'\n")
    endless.chmod(0o755)
    fields = slurmjob.show_job("5", {"TRACEEXEC_SCONTROL": str(endless),
                                     "PATH": os.environ["PATH"]})
    assert fields["JobId"] == "5" and fields["JobState"] == "RUNNING"
    assert len(fields["Comment"]) < slurmjob.ANSWER_LIMIT


def test_a_scontrol_that_says_nothing_gives_no_fields(tmp_path):
    silent = tmp_path / "scontrol"
    silent.write_text("#!/bin/sh\nexec sleep 300\n")
    silent.chmod(0o755)
    assert slurmjob.show_job("5", {"TRACEEXEC_SCONTROL": str(silent)}, timeout=0.2) == {}


def test_a_missing_sbatch_is_said_as_for_any_command(tmp_path):
    import sys
    done = subprocess.run([sys.executable, "-m", "traceexec.remote.slurmsubmit",
                           str(tmp_path / "sbatch"), "", "--wrap", "true"],
                          capture_output=True, timeout=60)
    assert done.returncode == 127
    assert done.stderr.decode() == "traceexec: %s: No such file or directory\n" % (
        tmp_path / "sbatch")


@pytest.mark.parametrize("kind, args", [("srun", ["-n"]), ("sbatch", ["-p", "q", "--time"]),
                                        ("sbatch", ["-Wp"])])
def test_an_option_without_its_value_is_left_for_slurm_to_say(kind, args):
    line = slurmargs.split(kind, args)
    assert not line.complete and line.words() == args and line.operands == []
    assert slurmsubmit.submission("sbatch", args, {}, "",
                                  read_stdin=lambda: pytest.fail("stdin read")).argv == (
        ["sbatch"] + args)
    from traceexec.remote import slurm
    assert slurm.srun_argv("srun", args, {}) == ["srun"] + args
