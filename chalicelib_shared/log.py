"""Structured JSON logs for both apps, through Powertools for AWS Lambda.

One logger for the whole package; the apps add ``app`` and, per snapshot, a
``correlation_id`` (the source snapshot ARN) so one snapshot's journey through
both accounts can be followed in CloudWatch Logs Insights.
"""

from aws_lambda_powertools import Logger

logger = Logger(service="draco")
