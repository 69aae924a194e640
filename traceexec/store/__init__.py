"""The local store and its readers: show (terminal) and serve (OTLP receiver)."""
