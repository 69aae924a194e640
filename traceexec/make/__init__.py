"""GNU make traced as it is: ``traceexec --make -- make ...``.

``setup`` prepares make's environment (the outermost traceexec), ``traceexec.mk``
is what make reads first, ``recipe`` is a recipe line's side (the wrapper make
runs as SHELL), ``targets`` turns the recipe lines' notes into target spans
with their ``depends`` links when make has ended.
"""
