"""Which AWS errors are worth waiting out, and which end a job.

A job never fails on a passing condition: throttling, a 5xx, a copy limit or a
full snapshot quota put it back to wait with backoff. A refusal that will not
change by itself (a TDE snapshot that can't be shared, an option group that
can't be copied, missing permissions) fails the job at once with AWS's reason,
so one bad snapshot causes no retry storm and holds up no other source.
"""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError

WAIT_CODES = frozenset(
    {
        "SnapshotQuotaExceeded",
        "SnapshotQuotaExceededFault",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "InternalFailure",
        "InternalError",
        # DynamoDB's 500: "OK to retry? Yes"
        # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html).
        "InternalServerError",
        "ServiceUnavailable",
        "InvalidDBSnapshotState",
        "InvalidDBSnapshotStateFault",
        "InvalidDBClusterSnapshotStateFault",
        "KMSKeyNotAccessibleFault",
        "ResourceLimitExceeded",  # EBS: 20 copies in flight per destination Region
    }
)
#: AWS words a copy limit as a parameter error; its message says so.
_LIMIT_MESSAGE = re.compile(r"(concurrent|in progress|in-progress|limit|quota)", re.IGNORECASE)


def is_worth_waiting(error: Exception) -> bool:
    """True for errors that pass: retry later. False: the job fails now, with the reason."""
    if isinstance(error, BotoCoreError):
        return True  # timeouts, connection errors: the request never got an answer
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    message = error.response.get("Error", {}).get("Message", "")
    if code in WAIT_CODES or status >= 500:
        return True
    return code.startswith("InvalidParameter") and bool(_LIMIT_MESSAGE.search(message))


QUOTA_CODES = frozenset({"SnapshotQuotaExceeded", "SnapshotQuotaExceededFault"})


def is_quota_full(error: Exception) -> bool:
    """A full snapshot quota: the job waits for room as long as it takes and never fails for it (``capacity``)."""
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code", "") in QUOTA_CODES


def describe(error: Exception) -> str:
    """One line naming the error, as AWS gave it."""
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        op = error.operation_name
        return f"{op}: {err.get('Code', '?')}: {err.get('Message', '')}"[:1000]
    return f"{type(error).__name__}: {error}"[:1000]
