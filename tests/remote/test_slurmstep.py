"""remote.slurmstep.step_argv: which processes of a DAG step go to the Slurm rewrite."""
import os

import pytest

from traceexec.remote.slurmstep import CLIENTS, step_argv


class Rewritten(Exception):
    """Raised by the environment maker: only a rewrite asks for the environment."""


def make_env():
    raise Rewritten


@pytest.mark.parametrize("program", [
    "srun", "/usr/bin/srun", "sbatch", "./sbatch", "xsrun", "/opt/xsbatch", "srun/",
    "/srun/true", "/bin/true", "true", "", "sbatch.sh", "SRUN"])
def test_only_a_program_named_sbatch_or_srun_is_rewritten(program):
    argv = [program, "-n1", "hostname"]
    if os.path.basename(program) in CLIENTS:
        with pytest.raises(Rewritten):
            step_argv(argv, make_env)
    else:
        assert step_argv(argv, make_env) is argv
    assert step_argv([], make_env) == []
