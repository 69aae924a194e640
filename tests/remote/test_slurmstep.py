"""remote.slurmstep.step_argvs: which processes of a DAG step go to the Slurm rewrite."""
import os

import pytest

from traceexec.remote.slurmstep import CLIENTS, step_argvs


class Rewritten(Exception):
    """Raised by the environment maker: only a rewrite asks for the environment."""


def make_env():
    raise Rewritten


@pytest.mark.parametrize("program", [
    "srun", "/usr/bin/srun", "sbatch", "./sbatch", "xsrun", "/opt/xsbatch", "srun/",
    "/srun/true", "/bin/true", "true", "", "sbatch.sh", "SRUN"])
def test_only_a_program_named_sbatch_or_srun_is_rewritten(program):
    for argvs in ([[program, "-n1", "hostname"]], [["/bin/true"], [], [program, "-n1"]]):
        if os.path.basename(program) in CLIENTS:
            with pytest.raises(Rewritten):
                step_argvs(argvs, make_env)
        else:
            assert step_argvs(argvs, make_env) is argvs
    assert step_argvs([], make_env) == []


def test_each_process_is_rewritten_as_slurm_rewrites_one(monkeypatch):
    from traceexec.remote import slurm
    monkeypatch.setattr(slurm, "step_argv", lambda argv, make_env: ["rewritten"] + argv)
    argvs = [["/bin/true"], ["srun", "-n1", "x"], []]
    assert step_argvs(argvs, make_env) == [["rewritten", "/bin/true"],
                                           ["rewritten", "srun", "-n1", "x"], ["rewritten"]]
