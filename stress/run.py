"""Full-size reliability runs; prints the figures that docs/guarantees.md quotes.

    python stress/run.py              # everything (about ten minutes on two cores)
    python stress/run.py load faults  # some of: load faults hostile secrets processes
    python stress/run.py --scale 0.1  # every size times 0.1

The scenarios are those of tests/reliability (tests/reliability/harness.py),
which runs them at a reduced size in CI.  Exit status 1 when a figure that
must be 0 (lost, outcome changed, secrets found, tracebacks...) is not.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "reliability"),
                os.path.join(ROOT, "tests", "delivery")]

import conftest  # noqa: E402  (the receiver and environment of the test suite)
import dags  # noqa: E402
import harness  # noqa: E402
import hostile_otlp  # noqa: E402
import torn_store  # noqa: E402

MUST_BE_ZERO = ("lost", "outcome_changed", "outcome_changed_wait", "outcome_changed_nowait",
                "wrong_parent", "wrong_exit_code", "secrets_found", "tracebacks", "orphans",
                "spool_unreadable", "spool_corrupt", "spool_pending", "unexpected",
                "flush_status", "refused_badly", "raw_control_chars", "files_renamed", "backoff_missing",
                "silent_failures", "modules_run_from_cwd", "spool_temporaries",
                "other_stderr_lines", "torn_stretches_in_spool")


@contextlib.contextmanager
def receiver(folder):
    rec = harness.receiver_at(folder, conftest.free_port(), conftest.free_port())
    try:
        yield rec
    finally:
        rec.stop()


def load(work, scale):
    size = lambda n: max(1, int(n * scale))  # noqa: E731
    with receiver(os.path.join(work, "r1")) as rec:
        yield "500 concurrent (xargs -P 50)", harness.concurrent_xargs(work, rec, size(500), 50)
    with receiver(os.path.join(work, "r2")) as rec:
        yield "500 concurrent (make -j 50)", harness.concurrent_make(work, rec, size(500), 50)
    with receiver(os.path.join(work, "r3")) as rec:
        yield "10,000 in sequence", harness.sequential(work, rec, size(10_000), timeout=300)
    with receiver(os.path.join(work, "r4")) as rec:
        yield "1,000-step DAG, maxActiveSteps 16", harness.dag_load(work, rec, size(1000), 16)
    with receiver(os.path.join(work, "r6")) as rec:  # one thread, whatever the width
        yield "10,000-step DAG, unlimited fan-out", harness.dag_load(work, rec, size(10_000), 0,
                                                                     timeout=600)


def faults(work, scale):
    size = lambda n: max(1, int(n * scale))  # noqa: E731
    yield "collector down, then flush", harness.collector_down_then_up(work, size(1000), 16)
    yield "black-hole collector", harness.black_hole(work, size(50), export_timeout=2.0)
    yield "collector and exporter SIGKILLed", harness.kill_mid_export(work, size(1000), 50)
    yield "traceexec SIGKILLed", harness.sigkill_wrappers(work, size(100))
    yield "local store, writers torn by a full disk", torn_store.scenario(
        work, wrappers=size(1000), torn_every=10)
    yield "full disk for a moment", harness.full_disk_moment(work, size(200), every=10)
    yield "collector down, many exporters", harness.long_outage(work, size(200),
                                                                backlog=size(100_000))
    with receiver(os.path.join(work, "r7")) as rec:
        yield "poison spans", harness.poison(work, rec)
    with receiver(os.path.join(work, "r8")) as rec:
        yield "exporter killed in a loop", harness.exporter_kill_loop(work, rec, size(50),
                                                                      spans=size(50_000))
    with receiver(os.path.join(work, "r9")) as rec:
        yield "cwd of stdlib-named modules", harness.shadowed_working_directory(
            work, rec, size(40))


def hostile(work, scale):
    from hypothesis import HealthCheck, given, settings
    count = max(1, int(2000 * scale))
    outcomes = {"documents": 0, "valid": 0, "refused": 0, "refused_badly": 0, "tracebacks": 0}

    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(dags.documents())
    def check(text):
        outcomes["documents"] += 1
        try:
            status, out, err = dags.validate_in_process(work, text)
        except Exception:
            outcomes["tracebacks"] += 1
            return
        try:
            dags.assert_clear(status, out, err)
        except AssertionError:
            outcomes["refused_badly"] += 1
            return
        outcomes["valid" if status == 0 else "refused"] += 1

    started = time.monotonic()
    check()
    outcomes["seconds"] = round(time.monotonic() - started, 2)
    yield "generated DAG documents (validate)", outcomes
    path = os.path.join(work, "big.yaml")
    with open(path, "w") as handle:
        handle.write(harness.dag_document(10_000, 16, "127.0.0.1:9", command="touch ran"))
    env = conftest.traceexec_env(os.path.join(work, "home"))
    figures = {}
    for name, args in (("validate", ["validate"]), ("dry_run", ["run", "--dry-run"]),
                       ("graph", ["graph"])):
        started = time.monotonic()
        result = conftest.run_traceexec(args + [path], env, cwd=work, timeout=600)
        figures[name + "_seconds"] = round(time.monotonic() - started, 2)
        figures[name + "_status"] = result.returncode
        figures["tracebacks"] = figures.get("tracebacks", 0) + result.stderr.count(b"Traceback")
    figures["executed"] = int(os.path.exists(os.path.join(work, "ran")))
    yield "10,000-step DAG", figures
    yield "hostile OTLP into serve, then show", hostile_otlp.scenario(
        work, connections=max(100, int(500 * scale)), many_attributes=max(1000,
                                                                           int(10_000 * scale)))


def secrets(work, scale):
    with receiver(os.path.join(work, "r5")) as rec:
        figures = harness.planted_token(work, rec, "planted-TOKEN-" + os.urandom(6).hex())
    yield "planted export token", figures
    with receiver(os.path.join(work, "r6")) as rec:
        figures = harness.planted_token_variants(work, rec, "planted-TOKEN-" + os.urandom(6).hex())
    yield "token with CR/LF, quotes, non-ASCII; 401/403", figures


def processes(work, scale):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import processes as scenario  # stress/processes.py
    with receiver(os.path.join(work, "r10")) as rec:
        yield "50,000-process build, --processes", scenario.big_build(
            work, rec, max(5, int(50_000 * scale)))


GROUPS = {"load": load, "faults": faults, "hostile": hostile, "secrets": secrets,
          "processes": processes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=" ".join(GROUPS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--json", action="store_true", help="figures as JSON lines")
    options = parser.parse_args(argv)
    unknown = [g for g in options.groups if g not in GROUPS]
    if unknown:
        parser.error("unknown group %s (choose from %s)" % (", ".join(unknown), " ".join(GROUPS)))
    failed = []
    for group in options.groups or list(GROUPS):
        with tempfile.TemporaryDirectory(prefix="traceexec-stress-") as work:
            for name, figures in GROUPS[group](work, options.scale):
                bad = {k: v for k, v in figures.items() if k in MUST_BE_ZERO and v}
                if figures.get("places"):
                    bad["places"] = figures["places"]
                if bad:
                    failed.append((name, bad))
                if options.json:
                    print(json.dumps({"group": group, "scenario": name, **figures}), flush=True)
                else:
                    print("%-8s %-36s %s%s" % (group, name, " ".join(
                        "%s=%s" % kv for kv in figures.items() if kv[0] != "places"),
                        "  FAILED" if bad else ""), flush=True)
    for name, bad in failed:
        print("FAILED %s: %s" % (name, bad), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
