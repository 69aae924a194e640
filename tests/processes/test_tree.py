"""The process tree from events, in the orders strace really reports them."""
from traceexec.processes.stream import ChildTimes, Exec, Exit, Fork
from traceexec.processes.tree import Tree


def tree_of(*events):
    tree = Tree()
    tree.apply(events)
    return tree


def test_fork_exec_exit_and_cpu_ticks():
    tree = tree_of(
        Exec(10, 1, "/bin/sh", ["sh", "-c", "ls | wc"]),
        Fork(10, 2, 11, False),
        Exec(11, 3, "/bin/ls", ["ls"]),
        Exit(11, 5, 0, None, False),
        ChildTimes(10, 6, 11, 7, 2),
        Exit(10, 9, 3, None, False))
    root, child = tree.processes
    assert tree.root is root and tree.root_ended and root.exit_code == 3
    assert child.parent is root and child.fork_ns == 2 and child.cpu_ticks == (7, 2)
    assert [(i.name, i.forked, i.start_ns) for i in child.images] == [("sh", True, 2),
                                                                       ("ls", False, 3)]
    assert tree.running() == []


def test_a_vfork_child_reported_before_its_parents_vfork_returns():
    tree = tree_of(Exec(10, 1, "/bin/sh", ["sh"]),
                   Exec(12, 3, "/bin/true", ["true"]),
                   Fork(10, 2, 12, False))
    child = tree.processes[1]
    assert child.parent is tree.root and [i.name for i in child.images] == ["sh", "true"]
    assert len(tree.processes) == 2 and tree.running() == tree.processes


def test_a_vfork_child_that_started_its_own_child_before_its_parents_vfork_returned():
    tree = tree_of(Exec(10, 1, "/usr/bin/make", ["make"]),
                   Exec(12, 3, "/bin/sh", ["sh", "-c", "a | b"]),
                   Fork(12, 4, 13, False),
                   Fork(10, 2, 12, False))
    sh, child = tree.processes[1], tree.processes[2]
    assert [i.name for i in sh.images] == ["make", "sh"]
    assert child.parent is sh and sh.images[child.parent_image].name == "sh"


def test_a_vfork_child_that_ended_before_its_parents_vfork_returned():
    tree = tree_of(Exec(10, 1, "/bin/sh", ["sh"]),
                   Exec(12, 3, "/bin/true", ["true"]),
                   Exit(12, 4, 0, None, False),
                   Fork(10, 2, 12, False))
    assert len(tree.processes) == 2 and tree.running() == [tree.root]
    child = tree.processes[1]
    assert child.parent is tree.root and child.ended
    assert [(i.name, i.start_ns) for i in child.images] == [("sh", 2), ("true", 3)]


def test_a_child_or_thread_that_ended_before_the_fork_returned():
    tree = tree_of(Exec(10, 1, "/bin/bash", ["bash"]),
                   Exit(11, 3, 5, None, False),     # a subshell: no exec, exit 5
                   Fork(10, 2, 11, False),
                   Exit(13, 5, 0, None, False),     # a short-lived thread
                   Fork(10, 4, 13, True))
    assert len(tree.processes) == 2 and tree.running() == [tree.root]
    subshell = tree.processes[1]
    assert subshell.parent is tree.root and subshell.exit_code == 5
    assert [(i.name, i.forked) for i in subshell.images] == [("bash", True)]


def test_a_reused_pid_that_ends_before_its_fork_returns_is_a_new_process():
    # 50,000 processes with pid_max 32768: pids come round again within one build
    tree = tree_of(Exec(10, 1, "/bin/sh", ["sh"]),
                   Fork(10, 2, 11, False), Exec(11, 3, "/bin/tr", ["tr"]),
                   Exit(11, 4, 0, None, False), ChildTimes(10, 5, 11, 3, 1),
                   Exit(11, 7, 0, None, False),      # pid 11 again: a subshell, quick
                   Fork(10, 6, 11, False),
                   ChildTimes(10, 8, 11, 1, 0))
    first, second = tree.processes[1:]
    assert tree.running() == [tree.root]
    assert (first.cpu_ticks, second.cpu_ticks) == ((3, 1), (1, 0))
    assert second.parent is tree.root and [i.name for i in second.images] == ["sh"]


def test_a_late_sigchld_goes_to_the_process_that_ended():
    tree = tree_of(Exec(10, 1, "/bin/sh", ["sh"]),
                   Fork(10, 2, 11, False), Exit(11, 3, 0, None, False),
                   Fork(10, 4, 11, False),                # pid 11 reused at once
                   ChildTimes(10, 5, 11, 9, 9))           # the first one's SIGCHLD
    assert [p.cpu_ticks for p in tree.processes[1:]] == [(9, 9), None]


def test_threads_are_part_of_their_process():
    tree = tree_of(Exec(10, 1, "/usr/bin/python3", ["python3"]),
                   Fork(10, 2, 11, True),            # a thread
                   Fork(11, 3, 12, False),           # the thread starts a process
                   Exec(12, 4, "/bin/true", ["true"]),
                   Exit(12, 5, 0, None, False),
                   Exit(11, 6, 0, None, False),      # the thread ends, not the process
                   Exit(10, 7, 0, None, False))
    assert len(tree.processes) == 2
    assert tree.processes[1].parent is tree.root and tree.root.end_ns == 7


def test_a_reused_pid_is_a_new_process_and_signals_are_kept():
    tree = tree_of(Exec(10, 1, "/bin/sh", ["sh"]),
                   Fork(10, 2, 11, False), Exit(11, 3, None, "SIGKILL", False),
                   Fork(10, 4, 11, False), Exec(11, 5, "/bin/false", ["false"]),
                   Exit(11, 6, 1, None, False))
    first, second = tree.processes[1:]
    assert (first.signal, first.failed, second.exit_code) == ("SIGKILL", True, 1)
    assert [i.name for i in second.images] == ["sh", "false"]
