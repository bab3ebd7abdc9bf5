"""Where the two Chalice apps' project folders are, whichever way DRACO runs.

The apps are the packages ``producer_app`` and ``consumer_app`` (each a Chalice
project: ``app.py``, ``.chalice/config.json``, ``requirements.txt``). From a
checkout (``python -m draco`` at its root, or ``pip install -e .``) they are the
checkout's folders, which bootstrap writes stages into; ``pip install .`` installs
them beside ``draco`` (package data), so ``draco demo`` works from any folder. Only
the import system is asked (``find_spec``, nothing imported), so finding them is cheap.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def app_folder(name: str) -> Path:
    """The Chalice project folder of ``name`` (``producer`` or ``consumer``).

    The checkout's when this package runs from one, else where ``<name>_app`` is
    installed; a folder without ``.chalice/config.json`` is passed over. When none is
    found, the checkout's path (callers say it is missing and what to do).
    """
    checkout = CHECKOUT / f"{name}_app"
    if (checkout / ".chalice" / "config.json").is_file():
        return checkout
    spec = importlib.util.find_spec(f"{name}_app")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / ".chalice" / "config.json").is_file():
            return Path(location)
    return checkout
