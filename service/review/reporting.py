"""GET /reports/prior-authorization (CMS-0057-F metrics) as HTML with server-drawn charts, JSON or CSV; the audit trail."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from service.errors import ApiError, bad_request
from service.policies.concepts import CONCEPTS
from service.policies.registry import all_policies
from service.review import accounts
from service.review.auth import current_reviewer, now_utc, require
from service.review.charts import bar_chart
from service.review.report import GROUPS, NOTES, PRIORITIES, Determination, build_report, reason_codes, report_csv
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


def collect(storage, start: date, end: date, payer: str | None) -> list[Determination]:
    """The requests received in the period, as the report reads them from storage."""
    begin = datetime.combine(start, time.min, UTC)
    stop = datetime.combine(end + timedelta(days=1), time.min, UTC)
    rows = []
    for claim, response in desk.received_between(storage, begin, stop, payer):
        received = claim.created_at
        rows.append(Determination(claim.priority if claim.priority in PRIORITIES else "standard", claim.decision,
                                  received, claim.decided_at, reason_codes(response.resource)))
    return rows


def charts(report: dict) -> list[tuple[str, Markup]]:
    """(caption, inline SVG) for decisions, times to decision and reasons."""
    groups = report["groups"]
    decisions = [(f"{p.capitalize()}: {w}", groups[p][w], w) for p in PRIORITIES for w in ("approved", "denied", "pended")]
    times = [(f"{p.capitalize()}: {k}", groups[p][f"{k}_hours_to_decision"], "time") for p in PRIORITIES
             for k in ("mean", "median")]
    reasons = [(CONCEPTS[c].display if c in CONCEPTS else c, n, "reason") for c, n in groups["all"]["reasons"].items()]
    out = [("Requests by decision and priority", decisions, ""), ("Hours from request to decision", times, " h")]
    if reasons:
        out.append(("Requests naming each pa-criteria reason", reasons, ""))
    return [(title, bar_chart(f"chart-{n}", title, bars, unit)) for n, (title, bars, unit) in enumerate(out, 1)]


@router.get("/reports/prior-authorization", include_in_schema=False)
async def prior_authorization_report(request: Request):
    """The operator's report; ?format=json|csv for the public web page (stable names, see report.MEASURES)."""
    wants = request.query_params.get("format") or "html"
    if wants in ("json", "csv"):  # systems get an OperationOutcome (401/403), not a sign-in page
        reviewer = require(await run_in_threadpool(current_reviewer, request), accounts.REPORT)
    else:
        signed = await signed_in(request, accounts.REPORT)
        if isinstance(signed, Response):
            return signed
        reviewer = signed
    try:
        start, end, payer, fmt = read_period(dict(request.query_params), now_utc().date())
    except ApiError as exc:
        if wants in ("json", "csv"):
            raise
        return problem_page(request, 400, "Cannot make that report", exc.message, reviewer)
    rows = await run_in_threadpool(collect, request.app.state.storage, start, end, payer)
    report = build_report(rows, start, end, payer, now_utc())
    if fmt == "json":
        return JSONResponse(report, headers=HEADERS)
    if fmt == "csv":
        name = f"prior-authorization_{start}_{end}_{payer or 'all'}.csv"
        return Response(report_csv(report), media_type="text/csv; charset=utf-8",
                        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})
    return page(request, "review/report.html", reviewer=reviewer, report=report, groups=GROUPS, notes=NOTES,
                charts=charts(report), payers={p: v.payer_name for p, v in sorted(all_policies().items())},
                concepts=CONCEPTS)


@router.get("/review/audit", include_in_schema=False)
async def show_audit(request: Request):
    """The latest audit events (who did what to which request); operators only."""
    reviewer = await signed_in(request, accounts.AUDIT)
    if isinstance(reviewer, Response):
        return reviewer
    events = await run_in_threadpool(desk.audit_trail, request.app.state.storage, None, 200)
    return page(request, "review/audit.html", reviewer=reviewer, events=events)
