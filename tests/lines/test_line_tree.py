"""lines.tree on the trace of a real bash running the real preamble."""
from __future__ import annotations

import os
import subprocess

from traceexec.lines import launch, parse, tree


def trace(tmp_path, body, *, threshold=tree.THRESHOLD, processes_kept=tree.PROCESSES_KEPT):
    """(builder, nodes, exit status) of ``body`` run by bash with the preamble."""
    path = tmp_path / "s.sh"
    path.write_text(body)
    out = tmp_path / "trace"
    with open(out, "wb") as sink:
        os.dup2(sink.fileno(), launch.TRACE_FD, inheritable=True)
        try:
            env = dict(os.environ, BASH_ENV=launch.PREAMBLE,
                       TRACEEXEC_LINES_FD=str(launch.TRACE_FD))
            result = subprocess.run(["bash", str(path)], env=env, capture_output=True,
                                    close_fds=False)
        finally:
            os.close(launch.TRACE_FD)
    parser = parse.Parser()
    records = parser.feed(out.read_bytes()) + parser.finish()
    root = tree.Node("root", None, 0)
    builder = tree.Builder(root, skip_source=launch.PREAMBLE, threshold=threshold,
                           processes_kept=processes_kept)
    for record in records:
        builder.add(record)
    nodes = builder.finish(records[-1].time_ns + 1000, result.returncode)
    return builder, root, nodes, result


def named(nodes, text):
    found = [n for n in nodes if n.text == text]
    assert found, [n.text for n in nodes]
    return found[0]


def test_functions_are_parents_of_their_lines(tmp_path):
    _, root, nodes, _ = trace(tmp_path, "f() {\n  echo in f\n  g\n}\ng() { echo in g; }\nf\n")
    call = named(nodes, "f")
    assert call.parent is root and call.calls == "f" and call.lineno == 6
    assert named(nodes, "echo in f").parent is call
    inner = named(nodes, "g")
    assert inner.parent is call and named(nodes, "echo in g").parent is inner
    assert named(nodes, "echo in g").function == "g"
    assert call.end_ns >= named(nodes, "echo in g").end_ns


def test_subshells_pipelines_and_command_substitution(tmp_path):
    body = "f() {\n  x=$(echo cs)\n  ( echo sub )\n  echo p | cat\n}\nf\n"
    _, root, nodes, _ = trace(tmp_path, body)
    call = named(nodes, "f")
    processes = {n.process_kind: n for n in nodes if n.kind == tree.PROCESS}
    assert set(processes) == {"command substitution", "subshell", "pipeline"}
    assert all(p.parent is call for p in processes.values())
    assert named(nodes, "echo cs").parent is processes["command substitution"]
    assert named(nodes, "echo sub").parent is processes["subshell"]
    assert named(nodes, "x=cs").parent is call


def test_sourced_file_is_a_parent(tmp_path):
    (tmp_path / "lib.sh").write_text("echo from lib\n")
    _, root, nodes, _ = trace(tmp_path, "cd %s\nsource ./lib.sh\necho back\n" % tmp_path)
    sourced = named(nodes, "source ./lib.sh")
    line = named(nodes, "echo from lib")
    assert line.parent is sourced and line.source == "./lib.sh"
    assert named(nodes, "echo back").parent is root


def test_set_e_failure_marked_with_its_callers(tmp_path):
    body = "set -e\nf() {\n  true\n  false\n  echo never\n}\nf\n"
    _, root, nodes, result = trace(tmp_path, body)
    assert result.returncode == 1
    assert [n.text for n in nodes if n.error] == ["f", "false"]


def test_failure_before_an_exit_trap(tmp_path):
    body = "set -e\non_exit() { echo bye; }\ntrap on_exit EXIT\necho a\nfalse\necho no\n"
    _, root, nodes, result = trace(tmp_path, body)
    assert result.returncode == 1 and result.stdout == b"a\nbye\n"
    assert [n.text for n in nodes if n.error] == ["false"]


def test_statuses(tmp_path):
    _, _, nodes, _ = trace(tmp_path, "false || true\ntest -e /nonexistent || :\n")
    assert named(nodes, "false").status == 1 and named(nodes, "true").status == 0


def test_loop_folded_above_the_threshold(tmp_path):
    body = "for i in $(seq 300); do\n  : $i\ndone\necho end\n"
    builder, root, nodes, _ = trace(tmp_path, body, threshold=50)
    folds = [n for n in nodes if n.kind == tree.FOLD]
    assert {f.lineno for f in folds} == {1, 2}
    processes = [n for n in nodes if n.kind == tree.PROCESS]  # $(seq 300)
    lines = len(nodes) - len(folds) - len(processes)
    assert sum(f.summary.count for f in folds) + lines == builder.lines  # each line counted
    assert len(nodes) < 80 and builder.lines > 600
    assert named(nodes, "echo end").parent is root


def test_nested_lines_of_a_folded_call_are_counted(tmp_path):
    body = "f() {\n  : a\n  : b\n}\nfor i in $(seq 100); do f; done\n"
    builder, root, nodes, _ = trace(tmp_path, body, threshold=20)
    fold = [n for n in nodes if n.kind == tree.FOLD and n.text == "f"][0]
    assert fold.summary.nested == 2 * fold.summary.count


def test_many_subshells_are_forgotten_oldest_first(tmp_path):
    body = "for i in $(seq 60); do\n  x=$(echo $i)\ndone\necho end\n"
    builder, root, nodes, _ = trace(tmp_path, body, processes_kept=20)
    assert len(builder.processes) <= 20 and builder.main in builder.processes.values()
    assert named(nodes, "echo end").parent is root


def test_the_authors_set_plus_x_is_marked(tmp_path):
    _, root, nodes, _ = trace(tmp_path, "set -x\necho a\nset +x\necho unseen\nset -x\necho b\n")
    assert named(nodes, "set +x").stops_trace
    assert [n.text for n in nodes] == ["set -x", "echo a", "set +x", "echo b"]
