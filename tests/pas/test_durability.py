"""Idempotency under concurrent retries and durability across SIGKILL, on a real server process."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from service.config import Settings
from service.storage import open_storage
from service.storage.tables import Claim, ClaimEvent, ClaimResponseRow, QuestionnaireResponseRow
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE, CASES
from tests.pas.server import Server, running_server


def count_rows(backend, key: str) -> dict:
    _, data_dir, url = backend
    storage = open_storage(Settings(data_dir=data_dir, database_url=url))
    try:
        with storage.sessions() as s:
            ids = s.scalars(select(Claim.id).where(Claim.idempotency_key == key)).all()
            return {
                "claims": len(ids),
                "responses": s.scalar(select(func.count()).select_from(ClaimResponseRow)
                                      .where(ClaimResponseRow.claim_id.in_(ids))),
                "answers": s.scalar(select(func.count()).select_from(QuestionnaireResponseRow)
                                    .where(QuestionnaireResponseRow.claim_id.in_(ids))),
                "audit": s.scalar(select(func.count()).select_from(ClaimEvent)
                                  .where(ClaimEvent.claim_id.in_(ids))),
            }
    finally:
        storage.close()


def test_twenty_concurrent_identical_submits(backend):
    _, data_dir, url = backend
    bundle = request_bundle("nanthealth", BASE)
    key = f"bundle:{bundle['identifier']['system']}|{bundle['identifier']['value']}"
    with running_server(data_dir, url, workers=2) as srv:
        barrier = threading.Barrier(20)

        def post(_):
            with httpx.Client(base_url=srv.url, timeout=60) as c:
                barrier.wait()
                return c.post("/fhir/Claim/$submit", json=bundle)

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(post, range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    ids = {r.json()["entry"][0]["resource"]["id"] for r in responses}
    numbers = {r.json()["entry"][0]["resource"]["preAuthRef"] for r in responses}
    assert len(ids) == 1 and len(numbers) == 1
    assert count_rows(backend, key) == {"claims": 1, "responses": 1, "answers": 1, "audit": 1}


def test_sigkill_loses_no_acknowledged_determination(backend):
    """Every 2xx received before SIGKILL is readable after restart (commit precedes the reply)."""
    _, data_dir, url = backend
    srv = Server(data_dir, url, workers=1)
    acknowledged: dict[str, str] = {}
    lock, stop = threading.Lock(), threading.Event()
    target = 40  # acknowledged determinations before the kill

    def load(worker: int):
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            n = 0
            while not stop.is_set():
                case = CASES[(worker + n) % len(CASES)]
                n += 1
                try:
                    r = c.post("/fhir/Claim/$submit", json=request_bundle(case[1], case[2]))
                except httpx.HTTPError:
                    continue  # the kill: no reply means no acknowledgement
                if r.status_code == 200:
                    cr = r.json()["entry"][0]["resource"]
                    code = cr["item"][0]["adjudication"][0]["extension"][0]["extension"][0]
                    with lock:
                        acknowledged[cr["id"]] = code["valueCodeableConcept"]["coding"][0]["code"]
                        if len(acknowledged) >= target:
                            srv.kill()  # mid-load: other threads have requests in flight
                            stop.set()

    try:
        srv.wait_ready()
        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert srv.proc.returncode is not None and len(acknowledged) >= target
    finally:
        srv.stop()
    with running_server(data_dir, url) as again, httpx.Client(base_url=again.url) as c:
        for response_id, code in acknowledged.items():
            r = c.get(f"/fhir/ClaimResponse/{response_id}")
            assert r.status_code == 200, response_id
            got = r.json()["item"][0]["adjudication"][0]["extension"][0]["extension"][0]
            assert got["valueCodeableConcept"]["coding"][0]["code"] == code
