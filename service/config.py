"""One Settings class: every knob the service reads from its environment."""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.auth.keysources import parse_issuers


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where the embedded SQLite database lives")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in DATA_DIR")
    public_base_url: str = Field("http://localhost:8080", description="Absolute base for links")
    log_level: str = "INFO"
    # Many payers require a clinician to sign every denial: route would-be denials to pend.
    deny_requires_review: bool = False
    # Months granted where a policy states no authorization period (Aetna, BCBSNC).
    default_auth_months: int = Field(6, ge=1, le=24)
    # CDS Hooks JWT (CDS Hooks 2.0 section "Trusting CDS Clients"): JSON map issuer -> JWKS
    # file path or allow-listed jku URL. Empty means verification is off (start-up warns).
    cds_trusted_issuers: str = ""
    # Unsigned CDS Hooks calls are refused (401) unless this is set (EHR sandboxes): warned at start-up
    # and shown on /readyz (issue 20). AUTH_DISABLED implies it (a developer's machine).
    cds_allow_unsigned: bool = False
    # The UM rule table's rows a payer changes (service/auth/policy.py RULES): JSON permission -> kinds.
    um_rules: str = ""
    fhir_timeout_seconds: float = Field(5.0, gt=0, le=60)
    session_secret: str | None = Field(None, description="Signs SMART app session cookies")
    smart_client_id: str = Field("besponsa-dtr", description="The SMART app's client_id at EHRs")
    smart_session_minutes: int = Field(60, ge=5, le=720)
    # FastAPI's native OpenTelemetry (spans, metrics, logs to the globally configured providers).
    # Off unless asked for: with it on, every request asks whether a provider is configured,
    # which costs order-sign several microseconds even when none is.
    otel_enabled: bool = False
    # SMART Backend Services clients allowed to call the payer API (JSON, or @/path/file.json):
    # id -> {"jwks" | "jwks_file" | "jwks_uri", "scope", "organization"} (README "Access").
    smart_clients: str = ""
    # Authorization off, for local experiments only: start-up warns and /readyz says so.
    auth_disabled: bool = False
    # Servers a caller may make us call (SMART iss, $populate and CDS Hooks fhirServer; clients' jwks_uri):
    # origins, '*' allowed in host or port; plain http only for loopback; loopback, link-local and private
    # addresses only when an entry names them without a wildcard (service/fhir/origins.py, issue 20).
    ehr_allowed_origins: str = "https://*"
    # Where Subscription notifications may be posted (channel.endpoint), same syntax; public https by default.
    subscription_allowed_origins: str = "https://*"
    # X12 external code list 886 (PAS reviewAction.reasonCode's required binding) is licensed by X12:
    # a payer that holds it maps pa-criteria concepts, or reason kinds (not-met, unknown, excluded,
    # review), to its codes here as JSON; the codes then come first, our concept code beside them.
    x12_reason_codes: str = ""
    # Whom a provider asks for a peer-to-peer review or an appeal (SMART pend and denial pages, the desk's
    # denial letters): JSON payer id -> text, "*" for every payer without its own entry.
    payer_contacts: str = ""
    # Database deadlines: a database that stops answering fails a request fast (503), never hangs it.
    db_connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(15.0, gt=0, le=300)
    db_pool_timeout_seconds: float = Field(5.0, gt=0, le=60)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_BASE_URL must be an absolute http(s) URL")
        if urlsplit(value).path.strip("/"):  # redirects and cookie paths are root-relative (docs/operations.md)
            raise ValueError("PUBLIC_BASE_URL must have no path: serve the service at the root of its own "
                             "host name (a sub-path such as /pa is not supported)")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("cds_trusted_issuers")
    @classmethod
    def _issuers(cls, value: str) -> str:
        try:
            parse_issuers(value)
        except (ValueError, OSError) as exc:  # json.JSONDecodeError is a ValueError too
            raise ValueError(f"CDS_TRUSTED_ISSUERS: {exc}") from None
        return value

    @field_validator("smart_clients")
    @classmethod
    def _clients(cls, value: str) -> str:
        from service.auth.clients import parse_clients  # refuse a bad registration at start-up
        try:
            parse_clients(value)
        except (ValueError, OSError) as exc:
            raise ValueError(f"SMART_CLIENTS: {exc}") from None
        return value

    @field_validator("ehr_allowed_origins", "subscription_allowed_origins")
    @classmethod
    def _origins(cls, value: str, info: ValidationInfo) -> str:
        from service.fhir.origins import parse_origins
        try:
            parse_origins(value)
        except ValueError as exc:
            raise ValueError(f"{str(info.field_name).upper()}: {exc}") from None
        return value

    @field_validator("x12_reason_codes")
    @classmethod
    def _x12(cls, value: str) -> str:
        return check_json_map(value, "X12_REASON_CODES", "concept codes or reason kinds to X12 886 codes")

    @field_validator("um_rules")
    @classmethod
    def _um_rules(cls, value: str) -> str:
        from service.auth.policy import parse_rules
        try:
            parse_rules(value)
        except ValueError as exc:
            raise ValueError(f"UM_RULES {exc}") from None
        return value

    @field_validator("payer_contacts")
    @classmethod
    def _contacts(cls, value: str) -> str:
        return check_json_map(value, "PAYER_CONTACTS", "payer ids (or \"*\") to contact text")

    def contact_for(self, payer_id: str) -> str:
        """The payer's peer-to-peer and appeal contact (PAYER_CONTACTS), or where to find it."""
        contacts = parsed_json_map(self.payer_contacts)
        return contacts.get(payer_id) or contacts.get("*") or (
            "Call the provider services number on the back of the member's ID card and ask for "
            "utilization management (peer-to-peer review or appeal).")

    @property
    def x12_reasons(self) -> Mapping[str, str]:
        """X12_REASON_CODES parsed (once per value; every $submit and review reads it)."""
        return parsed_json_map(self.x12_reason_codes)

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """EHR_ALLOWED_ORIGINS parsed (once per value)."""
        return parsed_origins(self.ehr_allowed_origins)

    @property
    def subscription_origins(self) -> tuple[str, ...]:
        """SUBSCRIPTION_ALLOWED_ORIGINS parsed (once per value)."""
        return parsed_origins(self.subscription_allowed_origins)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pa.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def check_json_map(value: str, name: str, meaning: str) -> str:
    """A setting that is empty or a JSON object of non-empty strings; ValueError says what it must map."""
    if value.strip():
        try:
            mapping = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be a JSON object") from None
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                    for k, v in mapping.items()):
            raise ValueError(f"{name} must map {meaning}")
    return value


@lru_cache(maxsize=16)
def parsed_json_map(raw: str) -> Mapping[str, str]:
    """A JSON object setting (validated at start-up) parsed once per value, read-only."""
    return MappingProxyType(json.loads(raw) if raw.strip() else {})


@lru_cache(maxsize=16)
def parsed_origins(raw: str) -> tuple[str, ...]:
    """An allow-list setting parsed once (a hook call reads it on every request)."""
    from service.fhir.origins import parse_origins
    return parse_origins(raw)
