"""Plan, then apply: one app's stack against one account.

``prepare_*`` checks the options (no AWS call yet), reads the account (read
only) and plans; ``apply`` runs the plan and returns the app's environment,
with the values AWS handed back (the transit key's ARN) filled in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import boto3

from draco.bootstrap import readers
from draco.bootstrap.aws import Clients, connect
from draco.bootstrap.executor import Executor
from draco.bootstrap.instructions import Step, resolve
from draco.bootstrap.models import Deployment, Stack, consumer_stack, producer_stack
from draco.bootstrap.names import Account
from draco.bootstrap.options import Options, consumer_options, producer_options
from draco.bootstrap.planner import known_values, plan


@dataclass(frozen=True)
class Prepared:
    """A stack, what the account lacks of it, and what is known before applying."""

    stack: Stack
    plan: list[Step]
    known: Mapping[str, str]
    clients: Clients

    @property
    def account(self) -> Account:
        return self.stack.account

    def preview_env(self) -> dict[str, str]:
        """The environment as it will be, with placeholders for what only applying makes."""
        return resolve(dict(self.stack.env), self.known, preview=True)


def prepare_producer(session: boto3.Session, dr_account: str, **options: Any) -> Prepared:
    """Check, read the production account, plan; changes nothing."""
    return _prepare(session, producer_options(session.region_name, dr_account, **options), producer_stack)


def prepare_consumer(session: boto3.Session, source_accounts: Sequence[str], **options: Any) -> Prepared:
    """Check, read the DR account, plan; changes nothing."""
    return _prepare(session, consumer_options(session.region_name, source_accounts, **options), consumer_stack)


def _prepare(session: boto3.Session, opts: Options, build: Callable[[Any, Account], Stack]) -> Prepared:
    acct, clients = connect(session, opts.region, opts.peers)
    stack = build(opts, acct)
    existing = readers.read(clients, stack)
    return Prepared(stack, plan(stack, existing), known_values(stack, existing), clients)


@dataclass(frozen=True)
class Applied:
    """What the Chalice project needs once the account holds the stack."""

    env: dict[str, str]
    deployment: Deployment


def apply(prepared: Prepared) -> Applied:
    """Run the plan; the app's environment and deployment, with what AWS handed back filled in."""
    executor = Executor(prepared.clients, prepared.known)
    executor.execute(prepared.plan)
    deployment = prepared.stack.deployment
    return Applied(
        resolve(dict(prepared.stack.env), executor.variables),
        replace(deployment, role_policy=resolve(deployment.role_policy, executor.variables)),
    )


def plan_producer(session: boto3.Session, dr_account: str, **options: Any) -> list[Step]:
    """What ``producer`` (same arguments) would change; empty once the account is bootstrapped."""
    return prepare_producer(session, dr_account, **options).plan


def plan_consumer(session: boto3.Session, source_accounts: Sequence[str], **options: Any) -> list[Step]:
    """What ``consumer`` (same arguments) would change; empty once the account is bootstrapped."""
    return prepare_consumer(session, source_accounts, **options).plan


def producer(session: boto3.Session, dr_account: str, **options: Any) -> dict[str, str]:
    """Bootstrap the production account for ``dr_account``; the producer's Lambda environment.

    Options: ``dr_region`` (the DR account's Region; ``None``: the session's), ``stage``,
    ``peer_stage`` (the consumer's, default the same), ``tag_key``, ``tag_value``,
    ``alarms`` (``Alarms(...)``, ``None`` for none).
    """
    return apply(prepare_producer(session, dr_account, **options)).env


def consumer(session: boto3.Session, source_accounts: Sequence[str], **options: Any) -> dict[str, str]:
    """Bootstrap the DR account for ``source_accounts``; the consumer's Lambda environment.

    Options: those of ``producer`` but ``dr_region``, and ``source_region`` (the source accounts'
    Region; ``None``: the session's, which is DR's), ``default_lifecycle``, ``custom_lifecycles``,
    ``no_dry_run``. Per-source DR keys (and, across Regions, the relay key) are not made here:
    the consumer makes each on first use.
    """
    return apply(prepare_consumer(session, source_accounts, **options)).env
