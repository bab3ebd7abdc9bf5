"""The commands that run in the embedded local AWS (demo, soak, bench) never read the operator's profile.

Their AWS is moto, with fake credentials the local world sets; a profile named in
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
