"""Delivery: the span record, export settings, the spool, the exporter and flush."""
