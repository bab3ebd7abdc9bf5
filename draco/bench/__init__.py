"""Benchmarks: cost, runs and calls per snapshot measured in the local world, and the soak run.

Imported only by the command line (``bench``, ``soak``) and the tests; may import ``draco.world``.
"""
