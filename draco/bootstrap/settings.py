"""``bootstrap --set NAME=VALUE``: the documented settings that have no option of their own.

Bootstrap writes every setting it owns (accounts, topics, keys, the job table, the
poller's rule: it made them, so only it names them) and each safeguard has its own
option. What is left are tuning knobs: the copy limits per kind, the attempts
through AWS errors, the sweep's reach, which other features' snapshots production
asks about, and the EBS snapshot lock. ``--set`` takes
those, and only those, checked by the app's own configuration reader before
anything in AWS changes, and writes them into the stage with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chalicelib_shared import config as cfg
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.base import Side
from chalicelib_shared.managed import COPY_MANAGED_SNAPSHOTS

_COPY_LIMITS = tuple(sorted(kind.copy_limit_variable for kind in KINDS.values()))
_LOCKS = tuple(
    f"{kind.lock_variable}_{part}" for kind in KINDS.values() if kind.lock_variable for part in ("DAYS", "MODE")
)
SETTABLE: Mapping[Side, tuple[str, ...]] = {
    Side.PRODUCER: (*_COPY_LIMITS, cfg.MAX_ATTEMPTS, cfg.SWEEP_DAYS, COPY_MANAGED_SNAPSHOTS),
    Side.CONSUMER: (*_COPY_LIMITS, cfg.MAX_ATTEMPTS, *_LOCKS),
}


def parse(side: Side, pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs as a dict; ``ValueError`` for a malformed pair or a setting ``--set`` doesn't take."""
    settings: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--set {pair!r}: write NAME=VALUE")
        if name not in SETTABLE[side]:
            raise ValueError(
                f"--set {name}: not a setting --set takes for the {side}; it takes {', '.join(SETTABLE[side])} "
                "(the others have their own option, or bootstrap names them)"
            )
        settings[name] = value.strip()
    return settings


def problems(side: Side, env: Mapping[str, str], settings: Mapping[str, str]) -> list[str]:
    """What the app's configuration reader refuses in ``settings``, read together with the stage's ``env``."""
    reader = cfg.ProducerConfig if side is Side.PRODUCER else cfg.ConsumerConfig
    found = reader.from_env({**env, **settings}).problems
    return [problem for problem in found if problem.split("=", 1)[0].split(" ", 1)[0] in settings]
