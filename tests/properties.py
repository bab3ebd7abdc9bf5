"""How hard the property tests search: two Hypothesis profiles, and each test's share of the search.

* ``dev`` (the default: the README's fast suite) searches a quarter as hard as
* ``ci`` (``.ci/run`` runs every property test again with ``--hypothesis-profile=ci``).

A test asks for ``examples(weight)``: ``weight`` times the profile's base count (``BASE``),
so the retention engine's reference check (weight 4) searches 1,200 cases in CI and 300
here. The property tests are marked ``properties`` (``conftest.py``), so CI can select them.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

BASE = {"dev": 75, "ci": 300}
for name, base in BASE.items():
    settings.register_profile(
        name, max_examples=base, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
settings.load_profile("dev")


def examples(weight: float) -> settings:
    """Settings for a property test that searches ``weight`` times the loaded profile's base count."""
    return settings(max_examples=max(1, round(weight * settings.default.max_examples)))
