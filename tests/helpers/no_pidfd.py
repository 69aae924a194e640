"""Run a command where the kernel refuses ``pidfd_open`` (ENOSYS), as an old kernel does.

    python tests/helpers/no_pidfd.py CMD [ARGS...]

A seccomp filter (inherited by everything the command starts) answers the
``pidfd_open`` system call (434 on every Linux architecture) with ENOSYS; every
other call is allowed.  Then the command is executed in place of this process.
"""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
NR_PIDFD_OPEN, ENOSYS = 434, 38
SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x00050000, 0x7FFF0000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06


def instruction(code, jump_true, jump_false, value) -> bytes:
    return struct.pack("HBBI", code, jump_true, jump_false, value)


def refuse_pidfd_open() -> None:
    program = b"".join([
        instruction(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        instruction(BPF_JEQ_K, 0, 1, NR_PIDFD_OPEN),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ])
    filters = ctypes.create_string_buffer(program, len(program))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    fprog = Program(len(program) // 8, ctypes.addressof(filters))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


if __name__ == "__main__":
    refuse_pidfd_open()
    os.execvp(sys.argv[1], sys.argv[1:])
