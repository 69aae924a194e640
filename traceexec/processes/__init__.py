"""`traceexec --processes`: every process of the command's tree as a span."""
