"""GET /reports/prior-authorization (CMS-0057-F metrics) as HTML with server-drawn charts, JSON or CSV; the audit trail."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from service.auth import policy
from service.errors import ApiError, bad_request
from service.policies.concepts import CONCEPTS
from service.policies.registry import all_policies
from service.review.audit import ACTIONS, CSV_LIMIT, PAGE_SIZE, audit_csv, audit_line
from service.review.auth import api_principal, now_utc, require
from service.review.charts import bar_chart
from service.review.report import GROUPS, NOTES, PRIORITIES, Tally, assemble, duration_text, limit_of, report_csv
from service.review.web import HEADERS, page, problem_page, signed_in
from service.storage import desk

router = APIRouter(tags=["reviewer desk"])
FORMATS = ("html", "json", "csv")


def read_period(args: dict[str, str], today: date) -> tuple[date, date, str | None, str]:
    """from/to (inclusive, default: this year to date), payer, format; 400 naming the bad parameter."""
    def day(name: str, default: date) -> date:
        value = args.get(name) or ""
        if not value:
            return default
        try:
            return date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("bad")
        except ValueError:
            raise bad_request("must be a date as YYYY-MM-DD", name, code="value") from None

    start, end = day("from", date(today.year, 1, 1)), day("to", today)
    if start > end:
        raise bad_request("must not be after `to`", "from", code="value")
    payer = args.get("payer") or None
    if payer is not None and payer not in all_policies():
        raise bad_request(f"not a payer served here ({', '.join(sorted(all_policies()))})", "payer", code="value")
    fmt = args.get("format") or "html"
    if fmt not in FORMATS:
        raise bad_request("must be html, json or csv", "format", code="value")
    return start, end, payer, fmt


def collect(storage, start: date, end: date, payer: str | None, now: datetime, payers: list[str]) -> dict:
    """The report for the requests received in the period, counted in SQL (issue 25): additive counts per
    (payer, priority, decision) rolled up here, reasons from claim_reasons, medians per group; no
    ClaimResponse JSON is read."""
    begin = datetime.combine(start, time.min, UTC)
    stop = datetime.combine(end + timedelta(days=1), time.min, UTC)
    limits = {p: limit_of(p) for p in PRIORITIES}
    cells: dict[tuple[str, str], Tally] = {}
    for row in desk.report_counts(storage, begin, stop, payer, limits, now):
        cells.setdefault((row["payer"], row["priority"]), Tally()).add(Tally(
            requests=int(row["requests"]), decisions={row["decision"]: int(row["requests"])},
            decided=int(row["decided"]), seconds=int(row["seconds"]), within=int(row["within"]),
            open=int(row["open"]), open_past_due=int(row["open_past_due"]), oldest_open=row["oldest_open"]))
    for pid, group, code, n in desk.report_reasons(storage, begin, stop, payer):
        found = cells.setdefault((pid, group), Tally()).reasons
        found[code] = found.get(code, 0) + n
    ids = sorted(set(payers) | {pid for pid, _ in cells})
    table: dict[tuple[str | None, str | None], Tally] = {}
    for who in (None, *ids):
        for which in (None, *PRIORITIES):
            table[(who, which)] = rolled = Tally()
            for (p, g), part in cells.items():
                if who in (None, p) and which in (None, g):
                    rolled.add(part)
    middles = desk.report_middles(storage, begin, stop, payer, limits,
                                  [(p, g, t.decided) for (p, g), t in table.items()])
    for key, middle in middles.items():
        if key in table:
            table[key].middle = middle
    return assemble(lambda pid, group: table[(pid, None if group == "all" else group)], ids, start, end, payer, now)


def charts(report: dict) -> list[tuple[str, Markup]]:
    """(caption, inline SVG) for decisions, times to decision (minutes under an hour) and reasons."""
    groups, timely = report["groups"], report["timeliness"]
    decisions = [(f"{p.capitalize()}: {w}", groups[p][w], w) for p in PRIORITIES for w in ("approved", "denied", "pended")]
    times = [(f"{p.capitalize()}: {k}", timely[p][f"{k}_seconds_to_decision"], "time") for p in PRIORITIES
             for k in ("mean", "median")]
    reasons = [(CONCEPTS[c].display if c in CONCEPTS else c, n, "reason") for c, n in groups["all"]["reasons"].items()]
    out = [("Requests by decision and priority", decisions, None), ("Hours from request to decision", times, duration_text)]
    if reasons:
        out.append(("Requests naming each pa-criteria reason", reasons, None))
    return [(title, bar_chart(f"chart-{n}", title, bars, show=show)) for n, (title, bars, show) in enumerate(out, 1)]


def queue_link(payer: str | None = None, status: str = "all", priority: str | None = None, *,
               start: str | date | None = None, end: str | date | None = None, decision: str | None = None,
               overdue: bool = False) -> str:
    """The desk queue filtered to exactly a count's cases (issue 22): payer, status, priority, the report's
    received dates, the decision, past due."""
    args = {"payer": payer or "", "status": status, "priority": "" if priority in (None, "all") else priority,
            "decision": decision or "", "from": str(start or ""), "to": str(end or ""), "overdue": "1" if overdue else ""}
    return "/review?" + urlencode({k: v for k, v in args.items() if v})


def presets(today: date) -> list[tuple[str, date, date]]:
    """(label, from, to): this and last quarter, this and last year (to today for the current ones)."""
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last_end = first - timedelta(days=1)
    last_first = date(last_end.year, 3 * ((last_end.month - 1) // 3) + 1, 1)
    return [("This quarter", first, today), ("Last quarter", last_first, last_end),
            ("This year", date(today.year, 1, 1), today),
            ("Last year", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))]


@router.get("/reports/prior-authorization", include_in_schema=False)
async def prior_authorization_report(request: Request):
    """The operator's report; ?format=json|csv for the public web page (stable names, see report.MEASURES)."""
    wants = request.query_params.get("format") or "html"
    if wants in ("json", "csv"):  # systems get an OperationOutcome (401/403), not a sign-in page
        reviewer = require(await run_in_threadpool(api_principal, request), policy.REPORT)
    else:
        reviewer = await signed_in(request, policy.REPORT)
    try:
        start, end, payer, fmt = read_period(dict(request.query_params), now_utc().date())
    except ApiError as exc:
        if wants in ("json", "csv"):
            raise
        return problem_page(request, 400, "Cannot make that report", exc.message, reviewer)
    by = request.query_params.get("by") or ""
    if by not in ("", "payer"):
        if wants in ("json", "csv"):
            raise bad_request("must be payer or left out", "by", code="value")
        return problem_page(request, 400, "Cannot make that report", "by: must be payer or left out", reviewer)
    report = await run_in_threadpool(collect, request.app.state.storage, start, end, payer, now_utc(),
                                     [payer] if payer else sorted(all_policies()))
    if fmt == "json":
        return JSONResponse(report, headers=HEADERS)
    if fmt == "csv":
        name = f"prior-authorization_{start}_{end}_{payer or 'all'}{'_by-payer' if by else ''}.csv"
        return Response(report_csv(report, by_payer=by == "payer"), media_type="text/csv; charset=utf-8",
                        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})
    return page(request, "review/report.html", reviewer=reviewer, report=report, groups=GROUPS, notes=NOTES,
                charts=charts(report), payers={p: v.payer_name for p, v in sorted(all_policies().items())},
                concepts=CONCEPTS, duration=duration_text, queue=queue_link, presets=presets(now_utc().date()))


def read_day(value: str, name: str) -> date | None:
    """A YYYY-MM-DD date, or None when left empty; 400 naming the parameter otherwise."""
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request("must be a date as YYYY-MM-DD", name, code="value") from None


def read_audit_args(args: dict[str, str]) -> tuple[dict, int, str]:
    """The audit page's filters for desk.audit_search (action, actor, PA number, from/to), page, format; 400 naming
    the bad parameter."""
    slug = args.get("action") or ""
    if slug and slug not in ACTIONS:
        raise bad_request(f"not an action here ({', '.join(ACTIONS)})", "action", code="value")
    _, stored, outcome, not_outcome = ACTIONS[slug] if slug else ("", None, None, None)
    days = {name: read_day(args.get(name) or "", name) for name in ("from", "to")}
    number = (args.get("number") or "").strip()[:64]
    try:
        page_no = int(args.get("page") or "1")
    except ValueError:
        raise bad_request("must be a whole number from 1", "page", code="value") from None
    if page_no < 1:
        raise bad_request("must be a whole number from 1", "page", code="value")
    fmt = args.get("format") or "html"
    if fmt not in ("html", "csv"):
        raise bad_request("must be html or csv", "format", code="value")
    filters = {"action": stored, "outcome": outcome, "not_outcome": not_outcome,
               "actor": (args.get("actor") or "").strip()[:128] or None, "number": number or None,
               "start": datetime.combine(days["from"], time.min, UTC) if days["from"] else None,
               "end": datetime.combine(days["to"] + timedelta(days=1), time.min, UTC) if days["to"] else None}
    return filters, page_no, fmt


def audit_query(args: dict[str, str], **changes: str | int) -> str:
    """The audit page's own address with the same filters and `changes` (a page number, a format)."""
    kept = {k: args.get(k, "") for k in ("action", "actor", "number", "from", "to")}
    return "/review/audit?" + urlencode({k: v for k, v in {**kept, **changes}.items() if v})


@router.get("/review/audit", include_in_schema=False)
async def show_audit(request: Request):
    """Audit events, newest first, 50 a page: filter by action, by whom, PA number and date; ?format=csv exports
    the filtered events. Operators only; no patient identifiers are shown."""
    reviewer = await signed_in(request, policy.AUDIT_ALL)
    args = dict(request.query_params)
    try:
        filters, page_no, fmt = read_audit_args(args)
    except ApiError as exc:
        return problem_page(request, 400, "Cannot show that audit trail", exc.message, reviewer)
    storage = request.app.state.storage
    names = {p: v.payer_name for p, v in all_policies().items()}
    if fmt == "csv":
        rows, _ = await run_in_threadpool(lambda: desk.audit_search(storage, limit=CSV_LIMIT, **filters))
        return Response(audit_csv([audit_line(r, names) for r in rows]), media_type="text/csv; charset=utf-8",
                        headers={**HEADERS, "Content-Disposition": 'attachment; filename="audit-trail.csv"'})
    rows, total = await run_in_threadpool(
        lambda: desk.audit_search(storage, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE, **filters))
    actors = await run_in_threadpool(desk.audit_actors, storage)
    pages = max(1, -(-total // PAGE_SIZE))
    return page(request, "review/audit.html", reviewer=reviewer, lines=[audit_line(r, names) for r in rows],
                total=total, page_no=page_no, pages=pages, first=(page_no - 1) * PAGE_SIZE + 1, actions=ACTIONS,
                actors=actors, chosen={k: args.get(k, "") for k in ("action", "actor", "number", "from", "to")},
                previous=audit_query(args, page=page_no - 1) if page_no > 1 else "",
                next=audit_query(args, page=page_no + 1) if page_no < pages else "",
                csv=audit_query(args, format="csv"))
