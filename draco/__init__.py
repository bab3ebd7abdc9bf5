"""DRACO's operator side: bootstrap, the local two-account world, the CLI. Never deployed."""
