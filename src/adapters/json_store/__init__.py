"""The DEBUG store: benchmark results read once from a JSON file and answered from an index."""
