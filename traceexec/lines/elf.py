"""Where an exported variable of a running program lives: its ELF ``.dynsym`` entry.

bash exports its globals for loadable builtins (``nm -D /bin/bash`` lists
``echo_command_at_execute``, the ``-x`` flag).  ``symbols`` reads the file's
dynamic symbol table with ``struct``; ``load_bias`` finds, in
``/proc/PID/maps``, where the kernel placed the program (a PIE lands at a random
address), so that the variable's address in that process is
``bias + value``.

    >>> found = symbols("/bin/bash", {"echo_command_at_execute"})  # doctest: +SKIP
    >>> found["echo_command_at_execute"]                            # doctest: +SKIP
    Symbol(value=0x136490, size=4)
"""

import struct

PT_LOAD = 1
SHT_DYNSYM = 11
STT_OBJECT = 1
SHN_UNDEF = 0
LONGEST = 64 << 20
"""A larger file is not read (bash is about 1.3 MB)."""


class NotElf(Exception):
    """The file is not an ELF program this reader understands; says why."""


class Symbol:
    __slots__ = ("value", "size")

    def __init__(self, value, size):
        self.value = value
        self.size = size

    def __repr__(self):
        return "Symbol(value=%#x, size=%d)" % (self.value, self.size)


class Image:
    """The parts of an ELF file needed to place its variables: its symbols and the
    address of its first loaded segment (0 for a PIE)."""

    def __init__(self, symbols, first_load_vaddr, first_load_offset):
        self.symbols = symbols
        self.first_load_vaddr = first_load_vaddr
        self.first_load_offset = first_load_offset


def _formats(data):
    if data[:4] != b"\x7fELF":
        raise NotElf("no ELF magic")
    klass, order = data[4], data[5]
    if order not in (1, 2) or klass not in (1, 2):
        raise NotElf("unknown ELF class or byte order")
    end = "<" if order == 1 else ">"
    # header fields, program header (and where its offset and vaddr are), section
    # header, symbol (and where its name, info, section, value and size are)
    if klass == 2:
        return (end + "HHIQQQIHHHHHH", end + "IIQQQQQQ", (2, 3), end + "IIQQQQIIQQ",
                end + "IBBHQQ", (0, 1, 3, 4, 5))
    return (end + "HHIIIIIHHHHHH", end + "IIIIIIII", (1, 2), end + "IIIIIIIIII",
            end + "IIIBBH", (0, 3, 5, 1, 2))


def read_image(handle, names) -> Image:
    """The ``names`` found among the file's defined data symbols (an open binary
    file, read whole); raises NotElf."""
    data = handle.read(LONGEST + 1)
    if len(data) > LONGEST:
        raise NotElf("larger than %d bytes" % LONGEST)
    header, phdr, (p_offset, p_vaddr), shdr, sym, order = _formats(data)
    try:
        (_, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         _) = struct.unpack_from(header, data, 16)
        first = None
        for i in range(phnum):
            fields = struct.unpack_from(phdr, data, phoff + i * phentsize)
            if fields[0] == PT_LOAD:
                first = (fields[p_vaddr], fields[p_offset])
                break
        if first is None:
            raise NotElf("no loaded segment")
        found = {}
        for i in range(shnum):
            s = struct.unpack_from(shdr, data, shoff + i * shentsize)
            if s[1] != SHT_DYNSYM or not s[9]:
                continue
            offset, size, link, entsize = s[4], s[5], s[6], s[9]
            strtab = struct.unpack_from(shdr, data, shoff + link * shentsize)
            strings = data[strtab[4]:strtab[4] + strtab[5]]
            wanted = {}  # where each name is in the string table (it may end another one)
            for name in names:
                text = name.encode() + b"\0"
                at = strings.find(text)
                while at >= 0:
                    wanted[at] = name
                    at = strings.find(text, at + 1)
            table = data[offset:offset + size - size % entsize]
            for fields in struct.iter_unpack(sym, table) if wanted else ():
                name_at, info, shndx, value, sym_size = (fields[k] for k in order)
                if name_at in wanted and shndx != SHN_UNDEF and info & 0xf == STT_OBJECT:
                    found[wanted[name_at]] = Symbol(value, sym_size)
        return Image(found, first[0], first[1])
    except struct.error:
        raise NotElf("truncated") from None


def load_bias(pid, device, inode, path, image) -> int:
    """How far from its link-time addresses ``pid`` placed the program whose file is
    (``device``, ``inode``) at ``path`` (bytes), from ``/proc/PID/maps`` (which names
    the file by the device under an overlay file system: the path then); raises
    NotElf if not mapped."""
    import os
    with open("/proc/%d/maps" % pid, "rb") as handle:
        for line in handle:
            fields = line.split(None, 5)
            if len(fields) < 5:
                continue
            try:
                major, minor = (int(part, 16) for part in fields[3].split(b":"))
                if (int(fields[4]), os.makedev(major, minor)) != (inode, device) and \
                        (len(fields) < 6 or fields[5].rstrip(b"\n") != path):
                    continue
                start, _ = (int(part, 16) for part in fields[0].split(b"-"))
                offset = int(fields[2], 16)
            except ValueError:
                continue
            if offset == image.first_load_offset & ~0xfff:
                return start - (image.first_load_vaddr & ~0xfff)
    raise NotElf("pid %d does not map the program" % pid)
