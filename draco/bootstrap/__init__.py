"""Bootstrap: make, idempotently, what each app needs in its account before Chalice deploys it.

Shaped like Chalice's own deployer, plan then apply:

* ``options``: the arguments, checked by the apps' own config readers before any AWS call;
* ``models``: the resources wanted (topics, keys, event sources, tables, roles, alarms),
  pure functions of the options and the account's facts; ``policies`` and ``alarms``
  write their documents;
* ``readers`` read what exists, ``planner`` diffs it into API calls (plain data,
  ``instructions``), ``executor`` runs them;
* ``sweeper``: ``python -m draco remove``, the way back;
* ``chalice_config``: the stage written into each Chalice project (environment,
  the role bootstrap made, the function names for ``chalice package``); ``cli``.

Running it twice changes nothing: the second plan is empty.
"""

from draco.bootstrap.chalice_config import write_stage_config
from draco.bootstrap.cli import register
from draco.bootstrap.deploy import (
    Applied,
    Prepared,
    apply,
    consumer,
    plan_consumer,
    plan_producer,
    prepare_consumer,
    prepare_producer,
    producer,
)
from draco.bootstrap.instructions import BootstrapError, Step
from draco.bootstrap.options import NEW_TRANSIT_KEY, Alarms

__all__ = [
    "NEW_TRANSIT_KEY",
    "Alarms",
    "Applied",
    "BootstrapError",
    "Prepared",
    "Step",
    "apply",
    "consumer",
    "plan_consumer",
    "plan_producer",
    "prepare_consumer",
    "prepare_producer",
    "producer",
    "register",
    "write_stage_config",
]
