"""The few ptrace(2) requests that turning xtrace off needs, through ctypes.

Only ``PTRACE_SEIZE`` and ``PTRACE_INTERRUPT`` stop a process: no signal is
sent, so the stopped program sees nothing (a system call it was blocked in is
restarted by the kernel).  All requests for one process must come from the
thread that seized it.  Errors are ``OSError`` with the errno.
"""

import ctypes
import os
import struct

SEIZE = 0x4206
INTERRUPT = 0x4207
GETSIGINFO = 0x4202
PEEKDATA = 2
POKEDATA = 5
SYSCALL = 24
DETACH = 17
O_TRACESYSGOOD = 1
SYSCALL_STOP = 5 | 0x80
EVENT_STOP = 128
WALL = 0x40000000
WORD = ctypes.sizeof(ctypes.c_long)
_WORD_FORMAT = "=q" if WORD == 8 else "=i"

_libc = ctypes.CDLL(None, use_errno=True)
_call = _libc.ptrace
_call.restype = ctypes.c_long
_call.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_readv = _libc.process_vm_readv
_readv.restype = ctypes.c_ssize_t
_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                   ctypes.c_ulong]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _request(request, pid, addr=0, data=0) -> int:
    ctypes.set_errno(0)
    result = _call(request, pid, addr, data)
    if result == -1:
        number = ctypes.get_errno()
        if number:
            raise OSError(number, os.strerror(number))
    return result


def seize(pid) -> None:
    """Seize ``pid`` (its system call stops say SIGTRAP | 0x80)."""
    _request(SEIZE, pid, 0, O_TRACESYSGOOD)


def to_next_system_call(pid) -> None:
    """Let a stopped process go on until it enters its next system call."""
    _request(SYSCALL, pid)


def interrupt(pid) -> None:
    _request(INTERRUPT, pid)


def peek(pid, address) -> bytes:
    """The word at ``address``, in the process's byte order (ESRCH: not stopped yet)."""
    return struct.pack(_WORD_FORMAT, _request(PEEKDATA, pid, address))


def poke(pid, address, word: bytes) -> None:
    """Write a whole word (``WORD`` bytes, as ``peek`` gave it) at ``address``."""
    if len(word) != WORD:
        raise ValueError("a word is %d bytes" % WORD)
    _request(POKEDATA, pid, address, struct.unpack(_WORD_FORMAT, word)[0])


def stop_signal(pid) -> int:
    """For a stopped process: the signal it stopped to receive (to be passed on at
    the detach), or 0 for the stops ``interrupt`` and ``to_next_system_call`` make."""
    info = ctypes.create_string_buffer(128)
    _request(GETSIGINFO, pid, 0, ctypes.addressof(info))
    number, _, code = struct.unpack_from("=iii", info.raw)
    if number == 5 and (code >> 8 == EVENT_STOP or code == SYSCALL_STOP):
        return 0  # SIGTRAP | PTRACE_EVENT_STOP << 8, or a system call's stop
    return number


def detach(pid, signal=0) -> None:
    _request(DETACH, pid, 0, signal)


def read(pid, address, size) -> bytes:
    """``size`` bytes of another process's memory, without stopping it."""
    buffer = ctypes.create_string_buffer(size)
    local = _Iovec(ctypes.addressof(buffer), size)
    remote = _Iovec(address, size)
    ctypes.set_errno(0)
    done = _readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    if done != size:
        number = ctypes.get_errno() or 5
        raise OSError(number, os.strerror(number))
    return buffer.raw
