"""Test-wide settings."""

from hypothesis import settings

# Speed is measured by `make bench`, not by tests: a per-example deadline would only make slow,
# noisy machines fail at random.
settings.register_profile("default", deadline=None)
settings.load_profile("default")
