"""Code shared by DRACO's two Lambda apps; vendored into both bundles.

Imports boto3 (from the Lambda runtime) and aws-lambda-powertools, never moto
or chalice, so each app's bundle stays small and testable without AWS.
"""
