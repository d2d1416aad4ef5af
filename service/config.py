"""One Settings class: every knob the service reads from its environment."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Servers a caller may make us call (SMART iss, $populate and CDS Hooks fhirServer): origins,
    # '*' allowed in host or port; plain http only for loopback (service/fhir/origins.py).
    ehr_allowed_origins: str = "https://*"
    # X12 external code list 886 (PAS reviewAction.reasonCode's required binding) is licensed by X12:
    # a payer that holds it maps pa-criteria concepts, or reason kinds (not-met, unknown, excluded,
    # review), to its codes here as JSON; the codes then come first, our concept code beside them.
    x12_reason_codes: str = ""
    # Database deadlines: a database that stops answering fails a request fast (503), never hangs it.
    db_connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(15.0, gt=0, le=300)
    db_pool_timeout_seconds: float = Field(5.0, gt=0, le=60)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_BASE_URL must be an absolute http(s) URL")
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

    @field_validator("ehr_allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        from service.fhir.origins import parse_origins
        try:
            parse_origins(value)
        except ValueError as exc:
            raise ValueError(f"EHR_ALLOWED_ORIGINS: {exc}") from None
        return value

    @field_validator("x12_reason_codes")
    @classmethod
    def _x12(cls, value: str) -> str:
        if value.strip():
            try:
                mapping = json.loads(value)
            except ValueError:
                raise ValueError("X12_REASON_CODES must be a JSON object") from None
            if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                        for k, v in mapping.items()):
                raise ValueError("X12_REASON_CODES must map concept codes or reason kinds to X12 886 codes")
        return value

    @property
    def x12_reasons(self) -> dict[str, str]:
        return json.loads(self.x12_reason_codes) if self.x12_reason_codes.strip() else {}

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        from service.fhir.origins import parse_origins
        return parse_origins(self.ehr_allowed_origins)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pa.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def is_https_or_loopback(url: str) -> bool:
    """https, or plain http to this machine only (tests and sidecars): where keys may come from."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


@lru_cache(maxsize=32)
def load_jwks_file(path: str) -> dict:
    """A JWK Set from a file, read once (checked at start-up by parse_issuers)."""
    jwks = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError(f"{path} is not a JWK Set (an object with a 'keys' array)")
    return jwks


def parse_issuers(raw: str) -> dict[str, dict]:
    """CDS_TRUSTED_ISSUERS: JSON {iss: {"jwks_file": path} | {"jwks": {...}} | {"jku": [urls]}}."""
    if not raw.strip():
        return {}
    issuers = json.loads(raw)
    if not isinstance(issuers, dict):
        raise ValueError("CDS_TRUSTED_ISSUERS must be a JSON object of issuer -> key source")
    for iss, source in issuers.items():
        if isinstance(source, dict) and "jwks_file" in source:
            load_jwks_file(str(source["jwks_file"]))  # unreadable or not a JWK Set: refuse now
        if not isinstance(source, dict) or not ({"jwks_file", "jwks", "jku"} & set(source)):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}] needs jwks_file, jwks or a jku allow-list")
        jku = source.get("jku", [])
        if not isinstance(jku, list) or not all(isinstance(u, str) for u in jku):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].jku must be a list of URLs")
        for url in jku:
            if not is_https_or_loopback(url):
                raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].jku {url!r} must be https")
    return issuers


