"""Commands on other hosts in the same trace: ``traceexec ssh`` and the DAG's ssh executor.

The context cannot travel in the environment across ssh (sshd passes only what
its ``AcceptEnv`` allows), so it travels in the remote command line
(``carrier``), built for the system's OpenSSH client (``sshargs``).
"""
