"""The environment of the embedded local AWS (demo, soak, bench, the local world).

The commands that run in it never read the operator's profile. Their AWS is moto,
with fake credentials the local world sets (``environment``); a profile named in
``AWS_PROFILE`` means nothing to it, yet botocore looks the name up in
``~/.aws/config`` for every session (moto makes one as it is imported), so a stale
profile would stop the demo. ``without_aws_profile`` hides the variables for the
command's run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: The variables botocore reads a profile name from (``botocore.session.Session.SESSION_VARIABLES``).
PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@contextlib.contextmanager
def without_aws_profile() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in PROFILE_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block; each goes back to what it was (or away) after it."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
