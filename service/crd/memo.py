"""Chart assessments remembered per process (a pure function of policy version, day and chart).

Why: one patient's chart comes back unchanged across order-select, order-sign and re-signing
(EHRs call order-select again as the clinician edits the order), and prefill plus the decision
is the largest part of an answer. A miss costs one hash of the chart (~4 us on the bench chart).
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import date
from hashlib import blake2b

import orjson

from service.crd.answer import ChartOutcome
from service.crd.hook import assess_chart
from service.policies.model import Policy


class AssessmentMemo:
    """assess_chart behind a least-recently-used table of `size` charts (event-loop thread only)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self.entries: OrderedDict[tuple, ChartOutcome] = OrderedDict()

    def assess(self, policy: Policy, resources: list[dict], today: date) -> ChartOutcome:
        try:
            digest = blake2b(orjson.dumps(resources), digest_size=16).digest()
        except (TypeError, orjson.JSONEncodeError):  # not plain JSON: assess, do not remember
            return assess_chart(policy, resources, today)
        key = (policy.payer_id, policy.version, today, digest)
        outcome = self.entries.get(key)
        if outcome is not None:
            self.entries.move_to_end(key)
            return outcome
        outcome = self.entries[key] = assess_chart(policy, resources, today)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return outcome
