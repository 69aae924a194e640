"""A DAG step's processes that run ``sbatch`` or ``srun``: found without importing the
Slurm client code (``slurm``: its job scripts and argument parsing, with ``shutil`` and
``secrets``, cost a DAG run's start about 9 ms of imports when no step needs them)."""
from __future__ import annotations

import os

CLIENTS = frozenset(("sbatch", "srun"))
"""The programs whose processes ``slurm.step_argv`` rewrites."""
_ENDINGS = tuple(CLIENTS)


def step_argv(argv: list, make_env) -> list:
    """``slurm.step_argv(argv, make_env)``; ``argv`` itself, at no import, for other programs."""
    # most programs end in neither name: no basename to take
    if not argv or not argv[0].endswith(_ENDINGS) or os.path.basename(argv[0]) not in CLIENTS:
        return argv
    from .slurm import step_argv as rewrite
    return rewrite(argv, make_env)
