"""The benchmark-result domain: entities, value objects and the averaging rules (stdlib only)."""
