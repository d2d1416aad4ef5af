"""The desk at a payer's volume (issue 25): seed N requests over a year into a throwaway PostgreSQL database
(COPY), then time the CMS-0057-F report for the year and the queue's first page and page 2 through the
service's own functions, each measurement in a fresh process that reports its peak RSS before and after.
With --baseline, the same on a smaller seed against the commit before this work (which loads every
request's ClaimResponse JSON), rounds interleaved, so the two figures come from the same run.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python3 bench/desk_million.py --requests 1000000 --baseline /work/base-da5ffdc --baseline-requests 50000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAYERS = (("aetna", 35), ("bcbst", 20), ("bcbsnc", 15), ("fepblue", 20), ("nanthealth", 10))
CODES = ("cd22-status", "disease-status", "diagnosis", "ph-status", "tki-failed", "chemo-failed", "age-years")
NAMES = ("maria elena garcia", "john smith", "wei chen", "aisha khan", "olga petrova", "james o'brien",
         "fatima al-sayed", "lucas silva", "emma johnson", "kofi mensah")
DAY = 86400


def peak_mb() -> float:
    """This process's peak RSS (VmHWM: reset at exec, unlike ru_maxrss, which a child inherits from its parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- seeding (the parent process, this tree's code) ------------------------------------------------------------

def templates() -> dict[tuple[str, str, tuple[str, ...]], str]:
    """One real ClaimResponse per (payer, decision, reasons) as the builder writes it, reused for its rows."""
    from service.engine.evaluate import NOT_MET, UNKNOWN, Reason
    from service.pas.claimresponse import Adjudication, build_claim_response
    from service.policies.registry import get_policy
    out = {}
    for payer, _ in PAYERS:
        for decision in ("approve", "deny", "pend"):
            for n in range(0, 4):
                codes = CODES[:n] if decision != "approve" else ()
                status = NOT_MET if decision == "deny" else UNKNOWN
                outcome = Adjudication(decision, tuple(Reason(c, status, "bench", "") for c in codes),
                                       6 if decision == "approve" else None, reviewer={"human": False})
                resource = build_claim_response(
                    {"patient": {"reference": "Patient/p"}, "item": [{"sequence": 1}]}, {"reference": "Claim/c"},
                    get_policy(payer), outcome, response_id=str(uuid.uuid4()), version=1, number="PA-BENCH",
                    created=datetime(2025, 1, 1, tzinfo=UTC))
                out[(payer, decision, codes)] = json.dumps(resource)
    return out


def generate(n: int, now: datetime, rng: random.Random):
    """Rows for claims, claim_responses and claim_reasons: a year of requests, most decided at once or by a
    reviewer within the timeframe, some late, the last days' pends still open (some routed, some asked for
    information, some stored before 0010)."""
    payers = [p for p, w in PAYERS for _ in range(w)]
    for i in range(n):
        payer = rng.choice(payers)
        expedited = rng.random() < 0.15
        limit = 3 * DAY if expedited else 7 * DAY
        received = now - timedelta(seconds=rng.uniform(60, 364 * DAY))
        age = (now - received).total_seconds()
        roll = rng.random()
        codes: tuple[str, ...] = ()
        versions = 1
        routed = human = False
        unmet: bool | None = None
        if roll < 0.55:  # approved at submission
            decision, taken = "approve", rng.choice((0, 0, 1, 2))
        elif roll < 0.60:  # denied at submission
            decision, taken, codes = "deny", rng.choice((0, 1)), CODES[:rng.randint(1, 3)]
        else:  # pended, then decided by a reviewer (usually in time), or still open
            codes = CODES[:rng.randint(1, 3)]
            unmet = rng.random() < 0.4
            taken = int(rng.uniform(600, limit * (1.6 if rng.random() < 0.08 else 0.95)))
            if taken >= age or rng.random() < 0.002:
                decision, taken = "pend", None
                routed, human = rng.random() < 0.15, rng.random() < 0.2
                versions = 2 if human else 1
                if rng.random() < 0.02:
                    unmet = None  # stored before 0010
            else:
                decision, versions = ("approve" if rng.random() < 0.7 else "deny"), 2
                codes = () if decision == "approve" else codes
        claim_id, response_id = uuid.uuid4().hex, str(uuid.uuid4())
        decided = None if taken is None else received.replace(microsecond=0) + timedelta(seconds=taken)
        yield ({"id": claim_id, "created_at": received, "idempotency_key": f"bench:{claim_id}", "payer_id": payer,
                "claim_identifier": f"urn:claim|{i}", "patient_ref": f"Patient/{i % 50000}",
                "provider_ref": f"http://hl7.org/fhir/sid/us-npi|{1000000000 + i % 5000}",
                "member_key": f"urn:member|M{i}", "request_ref": f"Claim/{i}", "request_hash": "0" * 64,
                "request": '{"resourceType": "Bundle", "type": "collection", "entry": []}', "response_id": response_id,
                "current_version": versions, "decision": decision, "owner": "bench-client",
                "priority": "expedited" if expedited else "standard", "due_at": received + timedelta(seconds=limit),
                "decided_at": decided, "routed_to": "physician" if routed else None,
                "patient_name": rng.choice(NAMES)},
               [{"claim_id": claim_id, "response_id": response_id, "version": v, "created_at": received,
                 "decision": "pend" if v < versions else decision, "review_code": "A4", "auth_number": f"PA-{i:07d}",
                 "human_reviewed": v > 1, "resource": (payer, "pend" if v < versions else decision, codes),
                 "unmet": unmet if v == 1 else None} for v in range(1, versions + 1)],
               codes)


def copy_rows(conn, table: str, columns: list[str], rows) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(url: str, n: int, now: datetime, baseline: Path | None) -> float:
    """Migrate (this tree's schema, or the baseline's in a subprocess) and COPY n requests in; seconds taken."""
    import psycopg
    from sqlalchemy.engine import make_url
    started = time.perf_counter()
    run_in(baseline, url, ["migrate"])
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    rng, shapes = random.Random(25), templates()
    with psycopg.connect(plain) as conn:
        have = {t: {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = %s", (t,))}
                for t in ("claims", "claim_responses", "claim_reasons")}
        rows = generate(n, now, rng)
        while chunk := [next(rows) for _ in range(min(100_000, n))] if n > 0 else []:
            n -= len(chunk)  # COPY 100,000 requests at a time: memory stays that of one chunk
            ccols = [c for c in chunk[0][0] if c in have["claims"]]
            rcols = [c for c in chunk[0][1][0] if c in have["claim_responses"]]
            copy_rows(conn, "claims", ccols, ([c[k] for k in ccols] for c, _, _ in chunk))
            copy_rows(conn, "claim_responses", rcols, ([shapes[r[k]] if k == "resource" else r[k] for k in rcols]
                                                       for _, versions, _ in chunk for r in versions))
            if have["claim_reasons"]:
                copy_rows(conn, "claim_reasons", ["claim_id", "code"],
                          ((c["id"], code) for c, _, codes in chunk for code in codes))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # what autovacuum does after a load; index-only scans need it
    return time.perf_counter() - started


# --- measuring (a fresh process per measurement, in either tree) ---------------------------------------------

def run_in(tree: Path | None, url: str, args: list[str], timeout: float = 900) -> dict:
    """Run this script's `measure` side in `tree` (None: this one) against `url`; its JSON answer."""
    tree = tree or ROOT
    env = {**os.environ, "PYTHONPATH": str(tree), "LOG_LEVEL": "WARNING"}
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", url, *args], cwd=tree,
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1] or "{}")


def open_store(url: str):
    from service.config import Settings
    from service.storage import open_storage
    return open_storage(Settings(data_dir=Path(tempfile.mkdtemp()) / "data", database_url=url))


def time_report(storage, start, end, now) -> dict:
    """The report for the year as the route makes it (SQL path here; rows + build_report at the baseline)."""
    import inspect

    from service.policies.registry import all_policies
    from service.review import reporting
    payers = sorted(all_policies())

    def run(first):
        if "payers" in inspect.signature(reporting.collect).parameters:
            return reporting.collect(storage, first, end, None, now, payers)
        from service.review.report import build_report
        return build_report(reporting.collect(storage, first, end, None), first, end, None, now, payers)
    run(end)  # warm on one day: connection, compiled statements, the policies
    before, t = peak_mb(), time.perf_counter()
    report = run(start)
    return {"seconds": time.perf_counter() - t, "rss_before_mb": before, "rss_after_mb": peak_mb(),
            "requests": report["groups"]["all"]["requests"]}


def time_queue(storage, now) -> dict:
    """The queue's default view (pended, soonest due) as the route makes it: first page, then page 2."""
    from collections import Counter
    try:
        from service.review import queue_page
    except ImportError:  # the baseline's queue route lived in pages.py
        queue_page = None
    before = peak_mb()
    if queue_page is not None:
        from service.storage.desk import QueueFilter
        where = QueueFilter()
        queue_page.fetch_page(storage, where, "", None, now)  # warm: connection, compiled statements
        t = time.perf_counter()
        rows, after = queue_page.fetch_page(storage, where, "", None, now)
        counts, _ = queue_page.count_page(storage, where)
        first = time.perf_counter() - t
        t = time.perf_counter()
        more, _ = queue_page.fetch_page(storage, where, "", after, now)
        queue_page.count_page(storage, where)
        second = time.perf_counter() - t
    else:  # the baseline: up to 500 rows, states counted in Python, the page cut from them
        from service.review.queue import queue_row
        from service.storage import desk

        def page(n: int):
            pairs = desk.list_queue(storage, pended_only=True, payer=None, priority=None)
            every = [queue_row(c, r, now) for c, r in pairs]
            Counter(r.state for r in every)
            return every[(n - 1) * 50:n * 50]
        page(1)  # warm, as above
        t = time.perf_counter()
        rows = page(1)
        first = time.perf_counter() - t
        t = time.perf_counter()
        more = page(2)
        second = time.perf_counter() - t
        counts = Counter()
    return {"first_page_seconds": first, "page2_seconds": second, "rows": len(rows), "page2_rows": len(more),
            "open": sum(counts.values()), "rss_before_mb": before, "rss_after_mb": peak_mb()}


def measure(url: str, what: str, now: datetime) -> dict:
    if what == "migrate":
        storage = open_store(url)
        storage.migrate()
        storage.close()
        return {}
    storage = open_store(url)
    try:
        if what == "report":
            return time_report(storage, (now - timedelta(days=364)).date(), now.date(), now)
        return time_queue(storage, now)
    finally:
        storage.close()


def rounds(label: str, tree: Path | None, url: str, what: str, now: str) -> dict:
    got = run_in(tree, url, [what, now])
    print(f"  {label:<9} {what:<6} {json.dumps(got)}", flush=True)
    return got


def summary(name: str, values: list[float]) -> str:
    return f"{name} median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a worktree of the commit before this work")
    parser.add_argument("--baseline-requests", type=int, default=50_000)
    parser.add_argument("--measure", nargs="+", metavar="URL WHAT [NOW]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        url, what, *now = args.measure
        print(json.dumps(measure(url, what, datetime.fromisoformat(now[0]) if now else datetime.now(UTC))))
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.databases import throwaway_database
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.isoformat()
    with throwaway_database() as big, throwaway_database() as small_new, throwaway_database() as small_old:
        if not big:
            sys.exit("set TEST_DATABASE_URL to a PostgreSQL server (a throwaway database is made on it)")
        print(f"seeding {args.requests:,} requests over a year: {seed(big, args.requests, now, None):.0f} s", flush=True)
        if args.baseline:
            for url, tree in ((small_new, None), (small_old, args.baseline)):
                took = seed(url, args.baseline_requests, now, tree)
                print(f"seeding {args.baseline_requests:,} for {'baseline' if tree else 'this tree'}: {took:.0f} s")
        results: dict[str, list[dict]] = {}
        for n in range(args.rounds):  # interleaved: this tree at 1M, then both trees on the small seed
            print(f"round {n + 1}", flush=True)
            for what in ("report", "queue"):
                results.setdefault(f"new-1M-{what}", []).append(rounds("this@big", None, big, what, stamp))
                if args.baseline:
                    results.setdefault(f"new-small-{what}", []).append(rounds("this@small", None, small_new, what, stamp))
                    results.setdefault(f"old-small-{what}", []).append(
                        rounds("base@small", args.baseline, small_old, what, stamp))
        print("\nsummary (seconds; peak RSS of the measuring process, MB)")
        for key, got in results.items():
            ok = [g for g in got if "error" not in g]
            if not ok:
                print(f"  {key}: {got[0].get('error')}")
                continue
            field = "seconds" if key.endswith("report") else "first_page_seconds"
            line = summary(field, [g[field] for g in ok])
            if key.endswith("queue"):
                line += "; " + summary("page2", [g["page2_seconds"] for g in ok])
            rss = [(g["rss_before_mb"], g["rss_after_mb"]) for g in ok]
            print(f"  {key}: {line}; RSS {rss[-1][0]:.0f} -> {max(a for _, a in rss):.0f} MB")
        if args.baseline:
            for what, field in (("report", "seconds"), ("queue", "first_page_seconds")):
                old = [g[field] for g in results[f"old-small-{what}"] if "error" not in g]
                new = [g[field] for g in results[f"new-small-{what}"] if "error" not in g]
                if old and new:
                    print(f"  {what} at {args.baseline_requests:,}: baseline / this = "
                          f"{statistics.median(old) / statistics.median(new):.1f}x")


if __name__ == "__main__":
    main()
