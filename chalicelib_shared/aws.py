"""AWS clients, made once per process, when first used, and reused by every invocation.

``client`` hands out a stand-in that makes the real client on its first call: a
cold start pays only for the clients its run uses (a wake-up with nothing due
reads the job table and one quota, nothing else), however many the use-cases
are wired with.

Clients retry throttling, 5xx and timeouts themselves with botocore's adaptive
retry mode, which also slows the caller down when an API says "Rate exceeded".
One boto3 session per set of credentials makes them all (a session loads
botocore's data once; a session per client paid for it again for each), so two
apps sharing one process (the local world) never use each other's clients.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=5, read_timeout=20)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, region_name: str) -> Any:
    return LazyClient(service, region_name, os.environ.get("AWS_ACCESS_KEY_ID"))


class LazyClient:
    """A boto3 client made on first use (the process-wide one for its service, Region and credentials)."""

    def __init__(self, service: str, region_name: str, access_key: str | None) -> None:
        self._key = (service, region_name, access_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(_client(*self._key), name)


def table(name: str, region_name: str) -> Any:
    return _table(name, region_name, os.environ.get("AWS_ACCESS_KEY_ID"))


# ``access_key`` is part of the cache keys only: one session and its clients per set of credentials.
@functools.cache
def _session(access_key: str | None) -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _client(service: str, region_name: str, access_key: str | None) -> Any:
    return _session(access_key).client(service, region_name=region_name, config=RETRY_CONFIG)


@functools.cache
def _table(name: str, region_name: str, access_key: str | None) -> Any:
    return _session(access_key).resource("dynamodb", region_name=region_name, config=RETRY_CONFIG).Table(name)


def forget_clients() -> None:
    """Drop every cached session and client (a new local world starts from scratch)."""
    _session.cache_clear()
    _client.cache_clear()
    _table.cache_clear()
