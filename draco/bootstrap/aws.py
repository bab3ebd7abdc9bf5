"""The account bootstrap works in: its facts from STS, and one client per service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

from draco.bootstrap.names import Account


class Clients:
    """boto3 clients of one session and Region, made once each."""

    def __init__(self, session: boto3.Session, region: str) -> None:
        self._session = session
        self._region = region
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, region_name=self._region)
        return self._clients[service]


def connect(session: boto3.Session, region: str, peers: Sequence[str]) -> tuple[Account, Clients]:
    """The account behind ``session`` (one read-only STS call) and its clients; refuses it as its own peer."""
    clients = Clients(session, region)
    identity = clients("sts").get_caller_identity()
    acct = Account(partition=identity["Arn"].split(":")[1], account=identity["Account"], region=region)
    if acct.account in peers:
        raise ValueError(f"account {acct.account} is the account being bootstrapped; name the other account")
    return acct, clients


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def missing(err: ClientError, *codes: str) -> bool:
    """Whether ``err`` says the thing asked about doesn't exist (anything else is re-raised by the caller)."""
    return error_code(err) in codes
