"""What a drill costs: the restored resource's hours and storage while it exists, at list prices.

US East (N. Virginia) on-demand list prices, read 2026-12-04; a class not listed
is estimated at 0 and reported as unpriced. RDS bills an instance per second
with a 10-minute minimum, from when it is available until it is deleted
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html);
storage per GB-month, prorated. Restoring reads the snapshot at no charge.
"""

from __future__ import annotations

from collections.abc import Mapping

HOURS_PER_MONTH = 730
MINIMUM_HOURS = 10 / 60  # RDS's 10-minute minimum

#: USD per instance-hour, Single-AZ, by engine family and class. Sources: the Amazon RDS, Aurora,
#: DocumentDB and Neptune pricing pages (aws.amazon.com/rds/pricing/, /rds/aurora/pricing/,
#: /documentdb/pricing/, /neptune/pricing/); third-party summaries agree on db.t3.micro at $0.018
#: (PostgreSQL) and db.t4g.micro at $0.016. Not confirmed on AWS's own page from here: an estimate.
INSTANCE_HOUR: Mapping[tuple[str, str], float] = {
    ("rds", "db.t3.micro"): 0.018,
    ("rds", "db.t4g.micro"): 0.016,
    ("aurora", "db.t3.medium"): 0.082,
    ("docdb", "db.t3.medium"): 0.078,
    ("neptune", "db.t3.medium"): 0.098,
}
#: USD per GB-month: RDS gp2/gp3 storage $0.115; EBS gp3 $0.08; Aurora, DocumentDB and Neptune
#: $0.10 (their storage is billed on data held, not provisioned).
STORAGE_GB_MONTH: Mapping[str, float] = {"rds": 0.115, "aurora": 0.10, "docdb": 0.10, "neptune": 0.10, "ebs": 0.08}


def family(engine: str) -> str:
    """The price family of an engine ("" for EBS volumes)."""
    if not engine:
        return "ebs"
    if engine.startswith("aurora"):
        return "aurora"
    return engine if engine in ("docdb", "neptune") else "rds"


def estimate(engine: str, instance_class: str, size_gb: int, hours: float) -> float:
    """USD for a resource of ``engine`` and ``instance_class`` holding ``size_gb`` for ``hours``."""
    kind = family(engine)
    billed = max(hours, MINIMUM_HOURS) if instance_class else hours
    compute = INSTANCE_HOUR.get((kind, instance_class), 0.0) * billed
    return compute + STORAGE_GB_MONTH[kind] * size_gb * hours / HOURS_PER_MONTH
