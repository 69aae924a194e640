"""The DAG driver: ``traceexec run|validate|graph`` on Dagu-format YAML files.

``load`` reads and checks a file into ``model`` dataclasses; ``run`` schedules
the steps (each in a thread, each command under a ``Step:`` span, all under
one ``DAG:`` span); ``progress`` and ``output`` are what the user sees;
``telemetry`` and ``spans`` are where the trace goes and what it says.

    from traceexec.dag import load, run
    result = run.execute(load.load("pipeline.yaml"))
"""
