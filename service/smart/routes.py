"""The clinician's DTR app: SMART launch, prefilled form, save to the EHR, submit for PA, result."""
from __future__ import annotations

import logging
import secrets
from datetime import date
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from service.api.body import read_json
from service.dtr.artifacts import questionnaires
from service.engine.answers import read_answers
from service.engine.prefill import describe_evidence, prefill_with_evidence
from service.errors import ApiError, forbidden, invalid, unauthorized
from service.fhir.client import FhirServer
from service.fhir.coverage import payer_of_coverage
from service.fhir.origins import is_allowed
from service.fhir.responses import read_response_answers
from service.pas.request import read_submit
from service.pas.submit import response_bundle
from service.pas.submit import submit as submit_request
from service.policies import canonical
from service.policies.model import Policy, concepts_used
from service.policies.registry import require_policy
from service.smart import ehr, oauth
from service.smart.form import build_pas_request, build_response, read_determination, render_questionnaire
from service.smart.session import SessionStore
from service.storage.access import LazySecret

HERE = Path(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(tags=["smart"])
COOKIE = "pa_session"
log = logging.getLogger("service.smart")


def sessions(request: Request) -> SessionStore:
    """The app's session store (made at start-up; see start_smart)."""
    return request.app.state.smart_sessions


def start_smart(app) -> None:
    """Sessions in the database, signed with SESSION_SECRET or a secret every worker shares."""
    settings = app.state.settings
    secret = settings.session_secret or LazySecret(app.state.storage, "smart-session")
    app.state.smart_sessions = SessionStore(app.state.storage, secret, settings.smart_session_minutes * 60)


async def load_session(request: Request) -> dict | None:
    return await run_in_threadpool(sessions(request).get, request.cookies.get(COOKIE))


async def store_session(request: Request, session: dict) -> None:
    await run_in_threadpool(sessions(request).save, request.cookies.get(COOKIE), session)


def set_session_cookie(request: Request, response, sid: str) -> None:
    response.set_cookie(COOKIE, sessions(request).sign(sid), httponly=True, samesite="lax",
                        secure=request.app.state.settings.public_base_url.startswith("https://"), path="/smart")


PAGE_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


def problem(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(request, "problem.html", status, title=title, message=message)


def redirect_uri(request: Request) -> str:
    return f"{request.app.state.settings.public_base_url}/smart/callback"


@router.get("/smart/launch")
async def launch(request: Request, iss: str | None = None, launch: str | None = None):
    """EHR launch (iss + launch) or standalone launch (iss only): SMART 2.x sections 2.0.1-2.0.4."""
    if not iss or not iss.startswith(("http://", "https://")):
        return problem(request, 400, "Launch incomplete", "The EHR did not say which FHIR server to use (iss).")
    settings = request.app.state.settings
    if not is_allowed(iss, settings.allowed_origins):
        return problem(request, 400, "Unknown EHR", "This EHR is not one the payer has set the app up for.")
    try:
        config = await oauth.discover(request.app.state.http, iss)
    except ApiError as exc:
        return problem(request, exc.status, "The EHR is not answering", exc.message)
    if not all(is_allowed(config[k], settings.allowed_origins) and config[k].startswith(("https://", "http://"))
               for k in ("authorization_endpoint", "token_endpoint")):
        return problem(request, 502, "The EHR's set-up is not usable",
                       "Its authorization server is not one the payer has set the app up for.")
    verifier, challenge = oauth.make_pkce()
    state = secrets.token_urlsafe(24)
    sid = await run_in_threadpool(sessions(request).create,
                                  {"iss": iss, "config": config, "state": state, "verifier": verifier})
    url = oauth.authorize_url(config, client_id=settings.smart_client_id, redirect_uri=redirect_uri(request),
                              iss=iss, state=state, challenge=challenge, launch=launch)
    response = RedirectResponse(url, status_code=302)
    set_session_cookie(request, response, sid)
    return response


@router.get("/smart/callback")
async def callback(request: Request, code: str | None = None, state: str | None = None, error: str | None = None):
    """Verify state, exchange the code with the PKCE verifier, keep the token server-side."""
    session = await load_session(request)
    if session is None:
        return problem(request, 401, "Session expired", "Please launch the app again from the EHR.")
    if error or not code or not state or not secrets.compare_digest(state.encode(), str(session.get("state", "")).encode()):
        return problem(request, 400, "Launch refused", "The authorization answer did not match this launch.")
    settings = request.app.state.settings
    try:
        token = await oauth.exchange_code(request.app.state.http, session["config"], code=code,
                                          verifier=session["verifier"], client_id=settings.smart_client_id,
                                          redirect_uri=redirect_uri(request))
    except ApiError as exc:
        return problem(request, exc.status, "The EHR did not grant access", exc.message)
    session.update(token=token, state="")  # a code is good once
    # Signed in at the EHR: a new session id, so one seen before the login is worthless.
    sid = await run_in_threadpool(sessions(request).rotate, request.cookies.get(COOKIE), session)
    response = RedirectResponse("/smart/form", status_code=303)
    set_session_cookie(request, response, sid)
    return response


def ehr_server(request: Request, session: dict) -> FhirServer:
    return FhirServer(request.app.state.http, session["iss"], session["token"]["access_token"])


async def load_form_context(request: Request, session: dict) -> dict:
    """The chart and the payer for the launch; an ApiError saying what is missing otherwise."""
    token = session["token"]
    patient = token.get("patient")
    if not isinstance(patient, str) or not patient:
        raise invalid("The EHR launched the app without a patient in context.")
    user = token.get("fhirUser") if isinstance(token.get("fhirUser"), str) else None
    ctx = await ehr.fetch_context(ehr_server(request, session), patient, user, ehr.context_refs(token))
    if ctx["coverage"] is None or ctx["patient"] is None:
        raise invalid("The patient has no coverage on file at the EHR.")
    payer_id = payer_of_coverage(ctx["coverage"], ctx["known"])
    if payer_id is None:
        raise invalid("The patient's payer is not one this service serves.")
    ctx["policy"] = require_policy(payer_id)
    return ctx


@router.get("/smart/form", response_class=HTMLResponse)
async def form(request: Request):
    """The payer's Questionnaire, prefilled from the chart, in LHC-Forms."""
    session = await load_session(request)
    if session is None or "token" not in session:
        return problem(request, 401, "Session expired", "Please launch the app again from the EHR.")
    try:
        ctx = await load_form_context(request, session)
    except ApiError as exc:
        return problem(request, exc.status, "Cannot open the form", exc.message)
    policy: Policy = ctx["policy"]
    found = prefill_with_evidence(ctx["resources"], concepts_used(policy), date.today())
    prefill = {code: value for code, (value, _) in found.items()}
    sources = {code: describe_evidence(evidence) for code, (_, evidence) in found.items()}
    if ctx["response"]:  # resume: what was saved before wins over a fresh prefill
        saved, _ = read_response_answers(ctx["response"])
        prefill = {**prefill, **saved}
        session["saved_id"] = ctx["response"].get("id")
    session.update(payer=policy.payer_id, prefill=prefill, ctx={k: ctx[k] for k in ("patient", "coverage", "order")})
    await store_session(request, session)
    questionnaire = render_questionnaire(questionnaires()[canonical.questionnaire_id(policy)], prefill, sources)
    return page(request, "form.html", payer=policy.payer_name, policy_url=f"/policies/{policy.payer_id}",
                questionnaire=questionnaire, csrf=session["csrf"], prefilled=len(prefill))


async def read_posted_response(request: Request) -> tuple[dict, dict]:
    """The session and the typed answers of a posted form, or an ApiError the page shows."""
    session = await load_session(request)
    if session is None or "payer" not in session:
        raise unauthorized("Your session has expired: launch the app again.")
    if not secrets.compare_digest(request.headers.get("x-csrf-token", "").encode(), session["csrf"].encode()):
        raise forbidden("The form is stale: reload the page.")
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
    qr = build_response(policy, questionnaires()[canonical.questionnaire_id(policy)], answers, session["prefill"],
                        patient=f"Patient/{ctx['patient']['id']}", contexts=contexts,
                        author=session["token"].get("fhirUser"), status=status)
    if session.get("saved_id"):
        qr["id"] = session["saved_id"]
    return qr


@router.post("/smart/save", include_in_schema=False)  # the app's own page calls it (CSRF), no one else
async def save(request: Request):
    """Write the QuestionnaireResponse to the EHR (create, then update), resumable later."""
    try:
        session, answers = await read_posted_response(request)
        qr = response_for(session, answers, "in-progress")
        session["saved_id"] = await ehr.save_response(ehr_server(request, session), qr, session.get("saved_id"))
        await store_session(request, session)
    except ApiError as exc:
        return json_error(exc)
    return JSONResponse({"saved": session["saved_id"]})


@router.post("/smart/submit", include_in_schema=False)
async def submit(request: Request):
    """Save as completed, then submit a PAS request to our own $submit (in process) and show it."""
    settings = request.app.state.settings
    try:
        session, answers = await read_posted_response(request)
        qr = response_for(session, answers, "completed")
        session["saved_id"] = await ehr.save_response(ehr_server(request, session), qr, session.get("saved_id"))
        qr["id"] = session["saved_id"]
        bundle = build_pas_request(require_policy(session["payer"]), qr, session["ctx"], session["token"].get("fhirUser"))
        req = read_submit(bundle)
        stored = await run_in_threadpool(submit_request, request.app.state.storage, settings, req)
    except ApiError as exc:
        return json_error(exc)
    session["result"] = read_determination(response_bundle(settings.public_base_url, stored))
    await store_session(request, session)
    return JSONResponse({"result": "/smart/result"})


@router.get("/smart/result", response_class=HTMLResponse)
async def result(request: Request):
    """The determination in plain words: approved with number and dates, pended, or denied with reasons."""
    session = await load_session(request)
    if session is None or "result" not in session:
        return problem(request, 401, "Nothing to show", "Your session has expired or nothing was submitted yet.")
    policy = require_policy(session["payer"])
    return page(request, "result.html", payer=policy.payer_name, policy_url=f"/policies/{policy.payer_id}",
                **session["result"])
