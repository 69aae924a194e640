"""``--lines``: a span for each command an unedited bash script runs (bash's xtrace)."""
