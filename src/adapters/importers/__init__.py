"""Readers of the files benchmark tools write: one module per format, each a ResultReader."""
