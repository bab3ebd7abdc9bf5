"""``draco bootstrap consumer``'s drill options: they become the consumer's DRILL_* settings.

The scheduled drill is off unless ``--drill-every-days`` is given (e.g. 30: each
protected source restored about monthly). The rounds' own schedule is read from
the deploying shell, ``DRACO_DRILL_MINUTES`` (default 10), as the pollers' is.
"""

from __future__ import annotations

import argparse

from chalicelib_shared.drills import settings as drill

#: option -> the variable it sets (every value kept as text; the app's reader checks them)
OPTIONS = {
    "--drill-every-days": drill.DRILL_EVERY_DAYS,
    "--drill-sources": drill.DRILL_SOURCES,
    "--drill-subnet-group": drill.DRILL_SUBNET_GROUP,
    "--drill-security-groups": drill.DRILL_SECURITY_GROUPS,
    "--drill-zone": drill.DRILL_ZONE,
    "--drill-instance-class": drill.DRILL_INSTANCE_CLASS,
    "--drill-concurrency": drill.DRILL_CONCURRENCY,
    "--drill-hours-per-month": drill.DRILL_HOURS_PER_MONTH,
    "--drill-timeout-minutes": drill.DRILL_TIMEOUT_MINUTES,
    "--drill-validator": drill.DRILL_VALIDATOR,
    "--rto-target-minutes": drill.RTO_TARGET_MINUTES,
}
HELP = {
    "--drill-every-days": "restore each source's newest DR copy this often (default: no scheduled drill)",
    "--drill-sources": "only sources tagged KEY=VALUE (default: all)",
    "--drill-subnet-group": "DB subnet group drills restore into (an isolated one)",
    "--drill-security-groups": "security groups of restored resources, comma-separated",
    "--drill-zone": "availability zone drills restore into",
    "--drill-instance-class": "DB instance class (default: the engine's smallest)",
    "--drill-concurrency": "restores at once, at most (default 2)",
    "--drill-hours-per-month": "drill instance-hours in 30 days, at most (default 24)",
    "--drill-timeout-minutes": "a drill not done by then fails and is cleaned up (default 240)",
    "--drill-validator": "Lambda function invoked with each restored endpoint",
    "--rto-target-minutes": "alarm when a drill's RTO passes this (default 60)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("restore drills")
    for option, help_text in HELP.items():
        group.add_argument(option, metavar="VALUE", help=help_text)


def from_args(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """The settings the options given set, as ``ConsumerOptions.drill_settings``."""
    given = ((variable, getattr(args, option[2:].replace("-", "_"))) for option, variable in OPTIONS.items())
    return tuple((variable, str(value)) for variable, value in given if value is not None)
