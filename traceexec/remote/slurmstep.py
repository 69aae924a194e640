"""A DAG step's processes that run ``sbatch`` or ``srun``: found without importing the
Slurm client code (``slurm``: its job scripts and argument parsing, with ``shutil`` and
``secrets``, cost a DAG run's start about 9 ms of imports when no step needs them)."""
from __future__ import annotations

import os

CLIENTS = frozenset(("sbatch", "srun"))
"""The programs whose processes ``slurm.step_argv`` rewrites."""
_ENDINGS = tuple(CLIENTS)


def step_argvs(argvs: list, make_env) -> list:
    """``[slurm.step_argv(argv, make_env) for argv in argvs]``; ``argvs`` itself, at no
    import and no new list, when no process runs sbatch or srun (a step has one or a few)."""
    for argv in argvs:
        # most programs end in neither name: no basename to take
        if argv and argv[0].endswith(_ENDINGS) and os.path.basename(argv[0]) in CLIENTS:
            break
    else:
        return argvs
    from .slurm import step_argv as rewrite
    return [rewrite(argv, make_env) for argv in argvs]
