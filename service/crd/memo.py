"""Chart assessments remembered per process (a pure function of policy version, day and chart).

Why: one patient's chart comes back unchanged across order-select, order-sign and re-signing
(EHRs call order-select again as the clinician edits the order), and prefill plus the decision
is the largest part of an answer. The key holds the chart's own JSON, so a hit is exact (no digest
that could collide); a miss costs one serialisation and one string hash (~6 us of CPU on the
13 KB EHR-shaped bench body, where blake2b cost ~12 us; issue 25).
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import date

import orjson

from service.crd.answer import ChartOutcome
from service.crd.hook import assess_chart
from service.policies.model import Policy


class AssessmentMemo:
    """assess_chart behind a least-recently-used table of at most `size` charts and `budget`
    bytes of chart JSON (event-loop thread only)."""

    def __init__(self, size: int = 4096, budget: int = 32 * 1024 * 1024):
        self.size, self.budget, self.held = size, budget, 0
        self.entries: OrderedDict[tuple, ChartOutcome] = OrderedDict()

    def assess(self, policy: Policy, resources: list[dict], today: date) -> ChartOutcome:
        try:
            chart = orjson.dumps(resources)
        except (TypeError, orjson.JSONEncodeError):  # not plain JSON: assess, do not remember
            return assess_chart(policy, resources, today)
        key = (policy.payer_id, policy.version, today, chart)
        outcome = self.entries.get(key)
        if outcome is not None:
            self.entries.move_to_end(key)
            return outcome
        outcome = self.entries[key] = assess_chart(policy, resources, today)
        self.held += len(chart)
        while len(self.entries) > self.size or (self.held > self.budget and len(self.entries) > 1):
            self.held -= len(self.entries.popitem(last=False)[0][3])
        return outcome
