"""Write the order-sign request the CRD benchmark posts (an Aetna adult, full prefetch)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.crd.requests import besponsa_request, hook_request  # noqa: E402

print(json.dumps(hook_request([besponsa_request()])))
