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

from service.engine.prefill import prefill_bundle
from service.dtr.artifacts import questionnaires
from service.engine.answers import read_answers
from service.fhir.coverage import payer_of_coverage
from service.fhir.responses import read_response_answers
from service.pas import service as pas
from service.pas.request import read_submit
from service.policies import canonical
from service.policies.model import concepts_used
from service.policies.registry import get_policy
from service.smart import ehr, oauth
from service.smart.form import build_pas_request, build_response, read_determination, render_questionnaire
from service.smart.session import SessionStore

HERE = Path(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(tags=["smart"])
COOKIE = "pa_session"
log = logging.getLogger("service.smart")


def sessions(request: Request) -> SessionStore:
    app = request.app
    if getattr(app.state, "smart_sessions", None) is None:
        settings = app.state.settings
        secret = settings.session_secret or secrets.token_hex(32)
        if not settings.session_secret:
            log.warning("SESSION_SECRET is not set: SMART sessions end when this process restarts")
        app.state.smart_sessions = SessionStore(secret, settings.smart_session_minutes * 60)
    return app.state.smart_sessions


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'"
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
    try:
        config = await oauth.discover(iss, settings.fhir_timeout_seconds)
    except oauth.LaunchError as exc:
        return problem(request, 502, "The EHR is not answering", str(exc))
    verifier, challenge = oauth.make_pkce()
    state = secrets.token_urlsafe(24)
    store = sessions(request)
    sid = store.create({"iss": iss, "config": config, "state": state, "verifier": verifier})
    url = oauth.authorize_url(config, client_id=settings.smart_client_id, redirect_uri=redirect_uri(request),
                              iss=iss, state=state, challenge=challenge, launch=launch)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(COOKIE, store.sign(sid), httponly=True, samesite="lax",
                        secure=settings.public_base_url.startswith("https://"), path="/smart")
    return response


@router.get("/smart/callback")
async def callback(request: Request, code: str | None = None, state: str | None = None, error: str | None = None):
    """Verify state, exchange the code with the PKCE verifier, keep the token server-side."""
    session = sessions(request).get(request.cookies.get(COOKIE))
    if session is None:
        return problem(request, 401, "Session expired", "Please launch the app again from the EHR.")
    if error or not code or not state or not secrets.compare_digest(state, session.get("state", "")):
        return problem(request, 400, "Launch refused", "The authorization answer did not match this launch.")
    settings = request.app.state.settings
    try:
        token = await oauth.exchange_code(session["config"], code=code, verifier=session["verifier"],
                                          client_id=settings.smart_client_id, redirect_uri=redirect_uri(request),
                                          timeout=settings.fhir_timeout_seconds)
    except oauth.LaunchError as exc:
        return problem(request, 502, "The EHR did not grant access", str(exc))
    session.update(token=token, state="")  # a code is good once
    return RedirectResponse("/smart/form", status_code=303)


async def load_form_context(request: Request, session: dict) -> dict:
    token = session["token"]
    if not token.get("patient"):
        raise ehr.EhrError("The EHR launched the app without a patient in context.")
    ctx = await ehr.fetch_context(session["iss"], token["access_token"], token["patient"],
                                  ehr.context_refs(token), request.app.state.settings.fhir_timeout_seconds)
    if ctx["coverage"] is None:
        raise ehr.EhrError("The patient has no coverage on file at the EHR.")
    payer_id = payer_of_coverage(ctx["coverage"], ctx["known"])
    if payer_id is None:
        raise ehr.EhrError("The patient's payer is not one this service serves.")
    ctx["policy"] = get_policy(payer_id)
    return ctx


@router.get("/smart/form", response_class=HTMLResponse)
async def form(request: Request):
    """The payer's Questionnaire, prefilled from the chart, in LHC-Forms."""
    session = sessions(request).get(request.cookies.get(COOKIE))
    if session is None or "token" not in session:
        return problem(request, 401, "Session expired", "Please launch the app again from the EHR.")
    try:
        ctx = await load_form_context(request, session)
    except ehr.EhrError as exc:
        return problem(request, 502 if "could not" in str(exc) else 422, "Cannot open the form", str(exc))
    policy = ctx["policy"]
    chart = {"resourceType": "Bundle", "entry": [{"resource": r} for r in ctx["resources"]]}
    prefill = prefill_bundle(chart, concepts_used(policy), date.today())
    if ctx["response"]:  # resume: what was saved before wins over a fresh prefill
        saved, _ = read_response_answers(ctx["response"])
        prefill = {**prefill, **saved}
        session["saved_id"] = ctx["response"].get("id")
    session.update(payer=policy.payer_id, prefill=prefill, ctx={k: ctx[k] for k in ("patient", "coverage", "order")})
    questionnaire = render_questionnaire(questionnaires()[canonical.questionnaire_id(policy)], prefill)
    return page(request, "form.html", payer=policy.payer_name, policy_url=f"/policies/{policy.payer_id}",
                questionnaire=questionnaire, csrf=session["csrf"], prefilled=len(prefill))


async def read_posted_response(request: Request) -> tuple[dict | None, dict, JSONResponse | None]:
    session = sessions(request).get(request.cookies.get(COOKIE))
    if session is None or "payer" not in session:
        return None, {}, JSONResponse({"error": "Your session has expired: launch the app again."}, status_code=401)
    if not secrets.compare_digest(request.headers.get("x-csrf-token", ""), session["csrf"]):
        return None, {}, JSONResponse({"error": "The form is stale: reload the page."}, status_code=403)
    try:
        raw, problems = read_response_answers(await request.json())
    except ValueError:
        return None, {}, JSONResponse({"error": "The form sent no response."}, status_code=400)
    answers, type_problems = read_answers(raw)
    if problems or type_problems:
        return None, {}, JSONResponse({"error": "; ".join(problems + type_problems)}, status_code=422)
    return session, answers, None


def response_for(session: dict, answers: dict, status: str) -> dict:
    policy = get_policy(session["payer"])
    ctx = session["ctx"]
    contexts = [{"reference": f"{r['resourceType']}/{r['id']}"} for r in (ctx.get("order"), ctx["coverage"]) if r]
    qr = build_response(policy, questionnaires()[canonical.questionnaire_id(policy)], answers, session["prefill"],
                        patient=f"Patient/{ctx['patient']['id']}", contexts=contexts,
                        author=session["token"].get("fhirUser"), status=status)
    if session.get("saved_id"):
        qr["id"] = session["saved_id"]
    return qr


@router.post("/smart/save")
async def save(request: Request):
    """Write the QuestionnaireResponse to the EHR (create, then update), resumable later."""
    session, answers, error = await read_posted_response(request)
    if error:
        return error
    qr = response_for(session, answers, "in-progress")
    try:
        session["saved_id"] = await ehr.save_response(session["iss"], session["token"]["access_token"], qr,
                                                      session.get("saved_id"), request.app.state.settings.fhir_timeout_seconds)
    except ehr.EhrError as exc:
        return JSONResponse({"error": str(exc)}, status_code=502)
    return JSONResponse({"saved": session["saved_id"]})


@router.post("/smart/submit")
async def submit(request: Request):
    """Save as completed, then submit a PAS request to our own $submit (in process) and show it."""
    session, answers, error = await read_posted_response(request)
    if error:
        return error
    qr = response_for(session, answers, "completed")
    settings = request.app.state.settings
    try:
        session["saved_id"] = await ehr.save_response(session["iss"], session["token"]["access_token"], qr,
                                                      session.get("saved_id"), settings.fhir_timeout_seconds)
    except ehr.EhrError as exc:
        return JSONResponse({"error": str(exc)}, status_code=502)
    qr["id"] = session["saved_id"]
    bundle = build_pas_request(get_policy(session["payer"]), qr, session["ctx"], session["token"].get("fhirUser"))
    req, problems = read_submit(bundle)
    if problems:
        return JSONResponse({"error": "; ".join(problems)}, status_code=422)
    stored = await run_in_threadpool(pas.submit, request.app.state.storage, settings, req)
    session["result"] = read_determination(pas.response_bundle(settings.public_base_url, stored))
    return JSONResponse({"result": "/smart/result"})


@router.get("/smart/result", response_class=HTMLResponse)
async def result(request: Request):
    """The determination in plain words: approved with number and dates, pended, or denied with reasons."""
    session = sessions(request).get(request.cookies.get(COOKIE))
    if session is None or "result" not in session:
        return problem(request, 401, "Nothing to show", "Your session has expired or nothing was submitted yet.")
    policy = get_policy(session["payer"])
    return page(request, "result.html", payer=policy.payer_name, policy_url=f"/policies/{policy.payer_id}",
                **session["result"])
