"""``python -m draco status``: is every database protected, and how recent is its DR copy?

Run against the DR account; it changes nothing. The package, in the order data flows:

* ``model``: the status as plain dataclasses, and ``build_status``, a pure function
  of the consumer's jobs and the DR account's snapshots (what each field means);
* ``readers``: where those come from (``collect`` from AWS; the
  local world is ``LocalWorld.status``), ``consumer_config`` from the stage's ``.chalice/config.json``);
* ``json_report`` (``to_json``, with the JSON schema), ``terminal`` (``render_table``,
  as wide as the terminal) and ``html_report`` (``render_html``, one page), with the
  cells they share in ``cells``;
* ``command``: the ``status`` sub-command.
"""

from draco.status.command import register, run
from draco.status.html_report import render_html
from draco.status.json_report import SCHEMA_VERSION, to_json
from draco.status.model import (
    DEFAULT_RPO_HOURS,
    HEALTH_ORDER,
    PRICES_PER_GB_MONTH,
    Copy,
    FailedJob,
    SkippedSource,
    SourceStatus,
    Status,
    build_status,
)
from draco.status.readers import collect, consumer_config, dr_snapshots
from draco.status.terminal import render_table

__all__ = [
    "DEFAULT_RPO_HOURS",
    "HEALTH_ORDER",
    "PRICES_PER_GB_MONTH",
    "SCHEMA_VERSION",
    "Copy",
    "FailedJob",
    "SkippedSource",
    "SourceStatus",
    "Status",
    "build_status",
    "collect",
    "consumer_config",
    "dr_snapshots",
    "register",
    "render_html",
    "render_table",
    "run",
    "to_json",
]
