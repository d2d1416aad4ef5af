"""The clinician's DTR app: SMART launch, prefilled form, autosave to the EHR, submit for PA, result, pend loop."""
from __future__ import annotations

import logging
import secrets
from datetime import UTC, date, datetime
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from service.api.body import read_json
from service.api.deps import HttpDep, SettingsDep, SmartSessionsDep, StorageDep
from service.config import Settings
from service.dtr.artifacts import questionnaires
from service.engine.answers import read_answers
from service.engine.prefill import prefill_with_evidence
from service.errors import ApiError, invalid, unauthorized
from service.fhir.client import FhirServer, HttpClient
from service.fhir.coverage import payer_of_coverage
from service.fhir.origins import is_allowed
from service.fhir.responses import iter_items, read_response_answers
from service.pas import inquiry
from service.pas.request import read_submit
from service.pas.submit import response_bundle
from service.pas.submit import submit as submit_request
from service.policies import canonical
from service.policies.concepts import CONCEPTS
from service.policies.model import Policy, concepts_used
from service.policies.registry import require_policy
from service.smart import ehr, oauth
from service.smart.completeness import incomplete_rule, missing_required, required_count
from service.smart.context import banner
from service.smart.form import build_pas_request, build_response, inquiry_bundle, provenance, render_questionnaire
from service.smart.outcome import needed_facts, read_determination
from service.web import pages
from service.web.sessions import SessionStore, Visit, check_csrf, start_sessions, tokens_match

router = APIRouter(tags=["smart"])
COOKIE = "pa_session"
log = logging.getLogger("service.smart")


def start_smart(app) -> None:
    """The web kit's session stores (service/web/sessions.py), in the database and shared by every worker."""
    start_sessions(app)


async def load_visit(request: Request, sessions: SessionStore) -> Visit | None:
    return await run_in_threadpool(sessions.get, request.cookies.get(COOKIE))


async def store_session(request: Request, sessions: SessionStore, session: dict) -> None:
    await run_in_threadpool(sessions.save, request.cookies.get(COOKIE), session)


def set_session_cookie(response, settings: Settings, cookie: str) -> None:
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="lax",
                        secure=settings.public_base_url.startswith("https://"), path="/smart")


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """An app page (service/web/): the form's content policy, since LHC-Forms writes inline styles."""
    return pages.page(request, name, status, csp=pages.FORM, **context)


def problem(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return pages.problem_page(request, status, title, message, csp=pages.FORM)


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url}/smart/callback"


@router.get("/smart/launch")
async def launch(request: Request, settings: SettingsDep, http: HttpDep, sessions: SmartSessionsDep,
                 iss: str | None = None, launch: str | None = None):
    """EHR launch (iss + launch) or standalone launch (iss only): SMART 2.x sections 2.0.1-2.0.4."""
    if not iss or not iss.startswith(("http://", "https://")):
        return problem(request, 400, "Launch incomplete", "The EHR did not say which FHIR server to use (iss).")
    if not is_allowed(iss, settings.allowed_origins):
        return problem(request, 400, "Unknown EHR", "This EHR is not one the payer has set the app up for.")
    try:
        config = await oauth.discover(http.under(settings.allowed_origins), iss)
    except ApiError as exc:
        return problem(request, exc.status, "The EHR is not answering", exc.message)
    if not all(is_allowed(config[k], settings.allowed_origins) and config[k].startswith(("https://", "http://"))
               for k in ("authorization_endpoint", "token_endpoint")):
        return problem(request, 502, "The EHR's set-up is not usable",
                       "Its authorization server is not one the payer has set the app up for.")
    verifier, challenge = oauth.make_pkce()
    state = secrets.token_urlsafe(24)
    cookie = await run_in_threadpool(sessions.open, {"iss": iss, "config": config, "state": state, "verifier": verifier})
    url = oauth.authorize_url(config, client_id=settings.smart_client_id, redirect_uri=redirect_uri(settings),
                              iss=iss, state=state, challenge=challenge, launch=launch)
    response = RedirectResponse(url, status_code=302)
    set_session_cookie(response, settings, cookie)
    return response


@router.get("/smart/callback")
async def callback(request: Request, settings: SettingsDep, http: HttpDep, sessions: SmartSessionsDep,
                   code: str | None = None, state: str | None = None, error: str | None = None):
    """Verify state, exchange the code with the PKCE verifier, keep the token server-side."""
    visit = await load_visit(request, sessions)
    if visit is None:
        return problem(request, 401, "Session expired", "Please launch the app again from the EHR.")
    session = visit.data
    if error or not code or not state or not tokens_match(str(session.get("state", "")), state):
        return problem(request, 400, "Launch refused", "The authorization answer did not match this launch.")
    try:
        token = await oauth.exchange_code(http.under(settings.allowed_origins), session["config"],
                                          code=code, verifier=session["verifier"], client_id=settings.smart_client_id,
                                          redirect_uri=redirect_uri(settings))
    except ApiError as exc:
        return problem(request, exc.status, "The EHR did not grant access", exc.message)
    session.update(token=token, state="")  # a code is good once
    # Signed in at the EHR: a new session id (and CSRF token), so one seen before the login is worthless.
    cookie = await run_in_threadpool(partial(sessions.open, session, replacing=request.cookies.get(COOKIE)))
    response = RedirectResponse("/smart/form", status_code=303)
    set_session_cookie(response, settings, cookie)
    return response


def ehr_server(http: HttpClient, settings: Settings, session: dict) -> FhirServer:
    """The launching EHR's FHIR server with the session's token (iss: checked at launch)."""
    return FhirServer(http.under(settings.allowed_origins), session["iss"], session["token"]["access_token"])


async def load_form_context(server: FhirServer, session: dict, refs: list[str] | None = None) -> dict:
    """The chart and the payer for the launch; an ApiError saying what is missing otherwise."""
    token = session["token"]
    patient = token.get("patient")
    if not isinstance(patient, str) or not patient:
        raise invalid("The EHR launched the app without a patient in context.")
    user = token.get("fhirUser") if isinstance(token.get("fhirUser"), str) else None
    ctx = await ehr.fetch_context(server, patient, user, ehr.context_refs(token) + (refs or []),
                                  session.get("questionnaire"))
    if ctx["coverage"] is None or ctx["patient"] is None:
        raise invalid("The patient has no coverage on file at the EHR.")
    payer_id = payer_of_coverage(ctx["coverage"], ctx["known"])
    if payer_id is None:
        raise invalid("The patient's payer is not one this service serves.")
    ctx["policy"] = require_policy(payer_id)
    if session.get("questionnaire") is None:  # now the payer is known: look for an autosaved draft of its form
        session["questionnaire"] = canonical.questionnaire_canonical(ctx["policy"])
        ctx["response"] = ctx["response"] or await ehr.find_draft(server, patient, session["questionnaire"])
    return ctx


def form_of(policy: Policy) -> dict:
    return questionnaires()[canonical.questionnaire_id(policy)]


def asked_items(session: dict, answer: str | None, questionnaire: dict) -> list[str]:
    """The items a pend asked for that the clinician chose to answer now (?answer=a,b), known items only."""
    result = session.get("result") or {}
    if not answer or result.get("decision") != "pended" or not session.get("sent"):
        return []
    known = {i.get("linkId") for i in iter_items(questionnaire["item"])}
    return [code for code in dict.fromkeys(answer.split(",")) if code in known and code in CONCEPTS][:50]


@router.get("/smart/form", response_class=HTMLResponse)
async def form(request: Request, settings: SettingsDep, http: HttpDep, sessions: SmartSessionsDep,
               answer: str | None = None):
    """The payer's Questionnaire in LHC-Forms: chart answers (or the saved draft) with where each came from;
    with ?answer= after a pend, the same request reopened on the items the payer asked for."""
    visit = await load_visit(request, sessions)
    if visit is None or "token" not in visit.data:
        return problem(request, 401, "Session expired", "Please launch the app again from the EHR.")
    session = visit.data
    saved = f"QuestionnaireResponse/{session.get('saved_id')}"
    refs = [saved] if isinstance(session.get("saved_id"), str) and ehr.safe_reference(saved) else []
    try:
        ctx = await load_form_context(ehr_server(http, settings, session), session, refs)
    except ApiError as exc:
        return problem(request, exc.status, "Cannot open the form", exc.message)
    policy: Policy = ctx["policy"]
    questionnaire = form_of(policy)
    found = prefill_with_evidence(ctx["resources"], concepts_used(policy), date.today())
    chart = {code: value for code, (value, _) in found.items()}
    evidence = {code: ev for code, (_, ev) in found.items()}
    focus = asked_items(session, answer, questionnaire)
    draft: dict = {}
    draft_at, draft_kind = "", "draft"
    if focus:  # answering a pend: the request as sent, then the asked items
        draft, draft_at, draft_kind = dict(session["sent"]["answers"]), session["sent"]["at"], "sent"
    elif ctx["response"]:  # resume: what was saved before wins over a fresh prefill
        draft, _ = read_response_answers(ctx["response"])
        draft_at = str(ctx["response"].get("authored") or (ctx["response"].get("meta") or {}).get("lastUpdated") or "")
        session["saved_id"] = ctx["response"].get("id")
    answers = {**chart, **draft}
    session.update(payer=policy.payer_id, chart=chart, evidence=evidence, update=bool(focus),
                   ctx={k: ctx[k] for k in ("patient", "coverage", "order", "practitioner")})
    await store_session(request, sessions, session)
    answered, total = required_count(questionnaire, answers)
    return page(request, "form.html", payer=policy.payer_name, policy_url=f"/policies/{policy.payer_id}",
                banner=banner(ctx, policy.payer_name), questionnaire=render_questionnaire(questionnaire, answers),
                provenance=provenance(chart, evidence, ctx["known"], draft, draft_at, draft_kind),
                csrf=visit.csrf, focus=focus, answered=answered, total=total,
                rule=incomplete_rule(policy), number=(session.get("result") or {}).get("reference") if focus else None,
                saved_at=draft_at if draft_kind == "draft" else "")


async def read_posted_response(request: Request, sessions: SessionStore) -> tuple[dict, dict]:
    """The session and the typed answers of a posted form, or an ApiError the page shows."""
    visit = await load_visit(request, sessions)
    if visit is None or "payer" not in visit.data:
        raise unauthorized("Your session has expired: launch the app again.")
    check_csrf(visit.csrf, request.headers.get("x-csrf-token"), "The form is stale: reload the page.")
    session = visit.data
    body = await read_json(request)
    if not isinstance(body, dict):
        raise invalid("The form sent no response.")
    raw, problems = read_response_answers(body)
    answers, type_problems = read_answers(raw)
    if problems or type_problems:
        raise invalid(problems + type_problems)
    return session, answers


def json_error(error: ApiError) -> JSONResponse:
    """The app's scripts show `error` in the page; the status is the error's own."""
    return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)


def response_for(session: dict, answers: dict, status: str) -> dict:
    policy = require_policy(session["payer"])
    ctx = session["ctx"]
    contexts = [{"reference": f"{r['resourceType']}/{r['id']}"} for r in (ctx.get("order"), ctx["coverage"]) if r]
    qr = build_response(policy, form_of(policy), answers, session.get("chart", {}),
                        patient=f"Patient/{ctx['patient']['id']}", contexts=contexts,
                        author=session["token"].get("fhirUser"), status=status, evidence=session.get("evidence"))
    if session.get("saved_id"):
        qr["id"] = session["saved_id"]
    return qr


@router.post("/smart/save", include_in_schema=False)  # the app's own page calls it (CSRF), no one else
async def save(request: Request, settings: SettingsDep, http: HttpDep, sessions: SmartSessionsDep):
    """Write the in-progress QuestionnaireResponse to the EHR (create, then update): autosave and resume."""
    try:
        session, answers = await read_posted_response(request, sessions)
        qr = response_for(session, answers, "in-progress")
        server = ehr_server(http, settings, session)
        session["saved_id"] = await ehr.save_response(server, qr, session.get("saved_id"))
        await store_session(request, sessions, session)
    except ApiError as exc:
        return json_error(exc)
    return JSONResponse({"saved": session["saved_id"], "at": qr["authored"]})


@router.post("/smart/submit", include_in_schema=False)
async def submit(request: Request, settings: SettingsDep, storage: StorageDep, http: HttpDep,
                 sessions: SmartSessionsDep, review: bool = False):
    """Check the required items, save as completed, submit a PAS request (or, after a pend, the update of the
    same request: Claim.related.claim) to our own $submit in process, and show the determination."""
    try:
        session, answers = await read_posted_response(request, sessions)
        policy = require_policy(session["payer"])
        missing = missing_required(form_of(policy), answers)
        rule = incomplete_rule(policy)
        if missing and not (review and rule["allowed"]):
            return JSONResponse({"error": f"{len(missing)} required question(s) unanswered.", "missing": missing,
                                 "rule": rule}, status_code=422)
        update = bool(session.get("update") and session.get("sent"))
        qr = response_for(session, answers, "amended" if update else "completed")
        server = ehr_server(http, settings, session)
        session["saved_id"] = await ehr.save_response(server, qr, session.get("saved_id"))
        qr["id"] = session["saved_id"]
        ctx = {**session["ctx"], "provider": session["sent"]["provider"] if update else None}
        bundle = build_pas_request(policy, qr, ctx, session["token"].get("fhirUser"), iss=session["iss"],
                                   prior=session["sent"]["claim_identifier"] if update else None)
        stored = await run_in_threadpool(submit_request, storage, settings, read_submit(bundle))
    except ApiError as exc:
        return json_error(exc)
    claim, patient, provider = (bundle["entry"][i]["resource"] for i in (0, 1, 4))
    first = session["sent"]["claim_identifier"] if update else claim["identifier"][0]
    session["sent"] = {"claim_identifier": first, "patient": patient, "provider": provider,
                       "answers": answers, "at": qr["authored"]}
    session["result"] = {**read_determination(response_bundle(settings.public_base_url, stored)), "updated": update}
    session["update"] = False
    await store_session(request, sessions, session)
    return JSONResponse({"result": "/smart/result"})


def result_page(request: Request, settings: Settings, visit: Visit, checked: str = "") -> HTMLResponse:
    session = visit.data
    policy = require_policy(session["payer"])
    result = session["result"]
    facts = needed_facts(policy, result.get("concepts") or [], (session.get("sent") or {}).get("answers") or {})
    contact = settings.contact_for(policy.payer_id)
    return page(request, "result.html", payer=policy.payer_name, policy_url=f"/policies/{policy.payer_id}",
                banner=banner(session.get("ctx") or {}, policy.payer_name), facts=facts, contact=contact,
                csrf=visit.csrf, checked=checked, **result)


@router.get("/smart/result", response_class=HTMLResponse)
async def result(request: Request, settings: SettingsDep, sessions: SmartSessionsDep):
    """The determination in plain words: approved with number and dates, pended with what is still needed
    and when it is due, or denied with reasons; whom to ask for a peer-to-peer review or an appeal."""
    visit = await load_visit(request, sessions)
    if visit is None or "result" not in visit.data:
        return problem(request, 401, "Nothing to show", "Your session has expired or nothing was submitted yet.")
    return result_page(request, settings, visit)


@router.post("/smart/check", include_in_schema=False)
async def check_again(request: Request, settings: SettingsDep, storage: StorageDep, sessions: SmartSessionsDep):
    """Ask for the current determination (PAS Claim/$inquire, in process): no Subscription needed."""
    visit = await load_visit(request, sessions)
    if visit is None or "sent" not in visit.data:
        return problem(request, 401, "Nothing to check", "Your session has expired or nothing was submitted yet.")
    session = visit.data
    form_data = await request.form()
    try:
        check_csrf(visit.csrf, str(form_data.get("csrf") or ""))
    except ApiError:
        return problem(request, 403, "The page is stale", "Reload the result page and check again.")
    try:
        keys = inquiry.inquiry_keys(inquiry_bundle(session["sent"]))
    except ApiError as exc:
        return problem(request, exc.status, "Cannot ask the payer", exc.message)
    found = await run_in_threadpool(inquiry.find_matches, storage, keys, None)
    match = next((s for s in found if s.response.response_id == session["result"].get("id")), None)
    if match is None:
        return problem(request, 404, "The payer does not find the request", "Nothing matched this request.")
    updated = session["result"].get("updated", False)
    session["result"] = {**read_determination(response_bundle(settings.public_base_url, match, inquiry=True)),
                         "updated": updated}
    await store_session(request, sessions, session)
    return result_page(request, settings, visit, checked=datetime.now(UTC).replace(microsecond=0).isoformat())
