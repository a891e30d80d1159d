"""Use cases of the service and the ports they depend on (no framework, no driver)."""
