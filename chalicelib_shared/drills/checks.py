"""Is a restored resource what its DR copy promised? The service's own view, then the operator's validator.

The default check reads what AWS reports of the restored resource: available,
the copy's engine, at least the copy's size, and encrypted under the key the
DR copy is encrypted under (DR's key), or unencrypted only when the copy is.

**The validator contract.** ``DRILL_VALIDATOR`` (or ``--validator``) names a
Lambda function in the DR account. A drill invokes it synchronously
(``RequestResponse``) once the resource passed the default check, with::

    {"drill_id": ..., "source": "<account>#<kind>#<name>", "kind": "RDS",
     "resource": "draco-drill-...", "engine": "postgres", "endpoint": "host", "port": 5432}

(``endpoint`` and ``port`` are empty for a volume). It must answer
``{"result": "passed" | "failed", "message": "..."}`` within the function's own
timeout; anything else (an error, a timeout, another answer) fails the drill,
with the reason. It runs in the drill's network, so it can connect, query, and
say whether the data is what it expects, as AWS Backup's restore testing
validation does. Credentials for the database are the validator's business:
DRACO passes none.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from chalicelib_shared.kinds.base import Phase
from chalicelib_shared.kinds.restoring import Restored, RestoreSource, key_id


def check(restored: Restored, source: RestoreSource) -> str:
    """Why ``restored`` is not what ``source`` promised ("": it is)."""
    if restored.phase is not Phase.READY:
        return f"{restored.resource_id} is {restored.status!r}, not available"
    if source.engine and restored.engine != source.engine:
        return f"restored engine {restored.engine!r}, the copy's is {source.engine!r}"
    if restored.size_gb < source.size_gb:
        return f"restored {restored.size_gb} GB, the copy holds {source.size_gb} GB"
    if source.encrypted and not restored.encrypted:
        return "restored unencrypted from an encrypted copy"
    if source.encrypted and key_id(restored.kms_key) != key_id(source.kms_key):
        return f"restored under key {key_id(restored.kms_key)!r}, not DR's key {key_id(source.kms_key)!r}"
    return ""


class Validator(Protocol):
    def validate(self, payload: dict[str, Any]) -> tuple[bool, str]:
        """Whether the restored resource is good, and the validator's message."""


class LambdaValidator:
    """The operator's validation function, invoked through a Lambda client."""

    def __init__(self, client: Any, function: str) -> None:
        self._lambda = client
        self.function = function

    def validate(self, payload: dict[str, Any]) -> tuple[bool, str]:
        answer = self._lambda.invoke(
            FunctionName=self.function, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        body = answer["Payload"].read()
        if answer.get("FunctionError"):
            return False, f"validator {self.function} failed: {body[:200].decode(errors='replace')}"
        try:
            reply = json.loads(body)
        except ValueError:
            return False, f"validator {self.function} answered no JSON"
        result = reply.get("result") if isinstance(reply, dict) else None
        message = str(reply.get("message", ""))[:500] if isinstance(reply, dict) else ""
        if result not in ("passed", "failed"):
            return False, f"validator {self.function} answered {str(reply)[:200]!r}, not a result"
        return result == "passed", message
