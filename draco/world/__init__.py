"""The local two-account AWS: moto, both apps, their events and schedules, and what moto lacks.

Imported by the demo, the benchmarks and the tests; never by the Lambda code or the operator commands' core.
Modules import nothing heavy here, so ``draco.world.local_aws`` stays cheap for ``--help``.
"""
