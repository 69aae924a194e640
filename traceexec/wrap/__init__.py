"""The wrapper: options, the wrapped command, supervision, terminal, context, redaction."""
