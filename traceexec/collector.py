"""The cyclic garbage collector paused for a phase that makes many objects and frees few.

Importing a subcommand's modules and loading a DAG file make tens of thousands of
objects that live until the run ends, and hardly any garbage; the collector's passes
over them cost a 1-step DAG's start several million instructions.  Reference counting
still frees what is dropped; the collector comes back on when the phase ends.

    with paused():
        dag = load(path)
"""
import gc


class paused:
    """``with paused():`` the collector off inside, back as it was after (nests)."""

    __slots__ = ("_was_on",)

    def __enter__(self):
        self._was_on = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *failure):
        if self._was_on:
            gc.enable()
        return False
