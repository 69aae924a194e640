"""The strace output parser: lines as strace 6 writes them, to events.

The lines are copied from real ``strace -f -ttt -s 4096`` runs (pids and
addresses kept), so the table is what the tracer will actually read.
"""
import pytest

from traceexec.processes import stream
from traceexec.processes.stream import Exec, Exit, Fork, ChildTimes

T = 1795550836_289627000  # 1795550836.289627 in ns


def events(*lines):
    parser = stream.Parser()
    return parser.feed("".join(line + "\n" for line in lines).encode())


@pytest.mark.parametrize("line,expected", [
    ('4660  1795550836.289627 execve("/usr/bin/sh", ["sh", "-c", "ls / | wc -l"], '
     '0x7ffd224a8670 /* 39 vars */) = 0',
     [Exec(4660, T, "/usr/bin/sh", ["sh", "-c", "ls / | wc -l"])]),
    # a failed try of a PATH search is no exec
    ('4660  1795550836.289627 execve("/usr/local/bin/bash", ["bash", "x"], 0x7ffe /* 39 vars */)'
     ' = -1 ENOENT (No such file or directory)', []),
    ('17872 1795550836.289627 clone(child_stack=NULL, flags=0x1200000|17, '
     'child_tidptr=0x7f97b75bfa10) = 17873', [Fork(17872, T, 17873, False)]),
    ('4660  1795550836.289627 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|'
     'CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7fb224138a10) = 4661',
     [Fork(4660, T, 4661, False)]),
    ('4660  1795550836.289627 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|'
     'CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, '
     'child_tid=0x7f07f509c990, parent_tid=0x7f07f509c990, exit_signal=0, stack=0x7f07f489c000, '
     'stack_size=0x7fff80, tls=0x7f07f509c6c0} => {parent_tid=[4701]}, 88) = 4701',
     [Fork(4660, T, 4701, True)]),
    ('4992  1795550836.289627 vfork()         = 4994', [Fork(4992, T, 4994, False)]),
    ('4992  1795550836.289627 fork()                                  = 4994',
     [Fork(4992, T, 4994, False)]),
    ('4992  1795550836.289627 clone(child_stack=NULL, flags=SIGCHLD) = ? ERESTARTNOINTR '
     '(To be restarted)', []),
    ('4992  1795550836.289627 clone(child_stack=NULL, flags=SIGCHLD) = -1 EAGAIN '
     '(Resource temporarily unavailable)', []),
    ('4661  1795550836.289627 +++ exited with 3 +++', [Exit(4661, T, 3, None, False)]),
    ('4661  1795550836.289627 +++ killed by SIGTERM +++', [Exit(4661, T, None, "SIGTERM", False)]),
    ('4661  1795550836.289627 +++ killed by SIGSEGV (core dumped) +++',
     [Exit(4661, T, None, "SIGSEGV", True)]),
    ('4660  1795550836.289627 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4661, '
     'si_uid=0, si_status=0, si_utime=12, si_stime=3} ---', [ChildTimes(4660, T, 4661, 12, 3)]),
    ('4660  1795550836.289627 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_STOPPED, si_pid=4661, '
     'si_uid=0, si_status=SIGSTOP, si_utime=0, si_stime=0} ---', []),
    ('4660  1795550836.289627 --- stopped by SIGSTOP ---', []),
    ('4660  1795550836.289627 +++ superseded by execve in pid 4659 +++', []),
], ids=["execve", "execve-failed", "clone-raw", "clone", "clone3-thread", "vfork", "fork",
        "clone-restart", "clone-failed", "exited", "killed", "core", "sigchld", "sigchld-stop",
        "stopped", "superseded"])
def test_one_line(line, expected):
    assert events(line) == expected


@pytest.mark.parametrize("literal,value", [
    (r'"plain"', "plain"),
    (r'"tab\there"', "tab\there"),
    (r'"\303\274 \303\261"', "ü ñ"),        # UTF-8 bytes as octal escapes
    (r'"q\"uote\\"', 'q"uote\\'),
    (r'"nl\nend"', "nl\nend"),
    (r'"\x1b[0m"', "\x1b[0m"),
    (r'"\33[0m\0"', "\x1b[0m\x00"),
    (r'"cut"...', "cut..."),                # longer than -s: strace marks the cut
    (r'"\377bad"', "\\xffbad"),            # not UTF-8: shown as an escape, never an error
])
def test_strings(literal, value):
    line = '1 1795550836.289627 execve("/bin/x", [%s], 0x1 /* 1 var */) = 0' % literal
    assert events(line)[0].argv == [value]


def test_argument_lists_cut_by_strace_end_with_an_ellipsis():
    line = ('1 1795550836.289627 execve("/bin/echo", ["echo", "a", ...], 0x1 /* 1 var */) = 0')
    assert events(line)[0].argv == ["echo", "a", "..."]


def test_execveat_and_a_null_argv():
    events_ = events(
        '7 1795550836.289627 execveat(AT_FDCWD, "/bin/true", ["true"], 0x1 /* 1 var */, 0) = 0',
        '8 1795550836.289627 execve("/bin/true", NULL, 0x1 /* 1 var */) = 0')
    assert events_ == [Exec(7, T, "/bin/true", ["true"]), Exec(8, T, "/bin/true", [])]


def test_unfinished_and_resumed_calls_are_joined_at_the_entry_time():
    got = events(
        '17872 1795550836.289627 clone(child_stack=NULL, flags=0x1200000|17 <unfinished ...>',
        '17873 1795550836.289700 execve("/usr/bin/ls", ["ls", "/"], 0x557d /* 39 vars */ '
        '<unfinished ...>',
        '17872 1795550836.289800 <... clone resumed>, child_tidptr=0x7f97b75bfa10) = 17874',
        '17873 1795550836.289900 <... execve resumed>) = 0',
        '4701  1795550836.289950 vfork( <unfinished ...>',
        '4701  1795550836.290000 <... vfork resumed>) = 4703')
    assert got == [Fork(17872, T, 17874, False),
                   Exec(17873, 1795550836_289700000, "/usr/bin/ls", ["ls", "/"]),
                   Fork(4701, 1795550836_289950000, 4703, False)]


def test_a_resumed_exec_that_failed_is_dropped_and_pending_calls_are_known():
    parser = stream.Parser()
    assert parser.feed(b'5 1795550836.289627 vfork( <unfinished ...>\n'
                       b'6 1795550836.289627 execve("/x", ["x"], 0x1 /* 1 var */ '
                       b'<unfinished ...>\n') == []
    assert parser.pending_forks() == 1
    assert parser.feed(b'6 1795550836.289700 <... execve resumed>) = -1 ENOENT (No such file)\n'
                       b'5 1795550836.289800 <... vfork resumed>) = 6\n') == [
        Fork(5, 1795550836_289627000, 6, False)]
    assert parser.pending_forks() == 0


def test_lines_split_across_chunks_and_junk_lines():
    parser = stream.Parser()
    data = (b'4661  1795550836.289627 +++ exited with 0 +++\n'
            b'strace: some message\n'
            b'\n'
            b'4662  1795550836.289627 +++ exited with 1 +++\n')
    got = []
    for i in range(0, len(data), 7):
        got += parser.feed(data[i:i + 7])
    assert got == [Exit(4661, T, 0, None, False), Exit(4662, T, 1, None, False)]
    assert parser.feed(b"4663  1795550836.289627 +++ exi") == []
    assert parser.feed(b"ted with 2 +++\n") == [Exit(4663, T, 2, None, False)]


def test_an_exec_whose_strings_contain_the_separators():
    line = ('9 1795550836.289627 execve("/bin/sh", ["sh", "-c", "x) = 1; echo \\"a, b\\" ]"], '
            '0x1 /* 1 var */) = 0')
    assert events(line) == [Exec(9, T, "/bin/sh", ["sh", "-c", 'x) = 1; echo "a, b" ]'])]
