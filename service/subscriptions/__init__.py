"""Topic-based Subscriptions to PAS ClaimResponse changes (R4 Subscriptions Backport; Da Vinci PAS 2.2.1)."""
from __future__ import annotations

# The PAS 2.2.1 SubscriptionTopic (Basic-PASSubscriptionTopic: trigger ClaimResponse, filter orgIdentifier).
PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
PAS_SUBSCRIPTION_PROFILE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
BACKPORT_SD = f"{BACKPORT}/StructureDefinition"
SUBSCRIPTION_PROFILE = f"{BACKPORT_SD}/backport-subscription"
STATUS_OPERATION = f"{BACKPORT}/OperationDefinition/backport-subscription-status"
TOPIC_CANONICAL = f"{BACKPORT_SD}/capabilitystatement-subscriptiontopic-canonical"
PAYLOAD_CONTENT = f"{BACKPORT_SD}/backport-payload-content"
FILTER_CRITERIA = f"{BACKPORT_SD}/backport-filter-criteria"
HEARTBEAT_PERIOD = f"{BACKPORT_SD}/backport-heartbeat-period"
TIMEOUT = f"{BACKPORT_SD}/backport-timeout"
MAX_COUNT = f"{BACKPORT_SD}/backport-max-count"
