"""Backend clients on the command line (SMART Backend Services "Registering a client", RFC 7523):
make a key pair, register it in a SMART_CLIENTS file, rotate its key, and get a first token."""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.auth.clients import parse_client
from service.auth.tokens import ASSERTION_TYPE
from service.errors import ApiError
from service.fhir.client import HttpClient
from service.ops.formatting import Defaults

PROVIDER_SCOPE = "system/Claim.c system/ClaimResponse.rs system/QuestionnaireResponse.cu system/Subscription.cruds"
TOKEN_SCOPE = "system/Claim.c system/ClaimResponse.rs"
TOKEN_URL = "http://localhost:8080/auth/token"


class CommandError(Exception):
    """A refusal the command prints in one line (exit 1)."""


def thumbprint(public: dict) -> str:
    """RFC 7638 JWK thumbprint of an EC key: a kid anyone holding the key can compute again."""
    members = json.dumps({k: public[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict:
    """The public JWK (ES384, use sig) with its thumbprint as kid."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    return {**jwk, "kid": thumbprint(jwk), "alg": "ES384", "use": "sig"}


def write_new_key(path: Path, force: bool) -> dict:
    """A new P-384 private key at `path` (PEM, 0600; refused when the file exists unless force): its public JWK."""
    if path.exists() and not force:
        raise CommandError(f"{path} exists; refusing to overwrite a private key (pass --force to replace it)")
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    path.chmod(0o600)
    return public_jwk(key)


def read_public_key(path: Path) -> dict:
    """The public JWK of a PEM file holding an EC private or public key."""
    data = path.read_bytes()
    try:
        key: object = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        raise CommandError(f"{path} is not an EC key (make-client writes P-384 keys for ES384)")
    return public_jwk(key)


def read_registrations(path: Path) -> dict:
    if not path.exists():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8") or "{}")
    if not isinstance(entries, dict):
        raise CommandError(f"{path} is not a SMART_CLIENTS file (a JSON object of client id -> registration)")
    return entries


def write_registrations(path: Path, entries: dict) -> None:
    """Replace the file atomically: a worker starting meanwhile reads the old or the new one, never half."""
    for cid, entry in entries.items():
        try:
            parse_client(cid, entry)
        except ValueError as exc:
            raise CommandError(f"not written: {exc}") from None
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def registration(args: argparse.Namespace, jwk: dict) -> dict:
    entry: dict = {"jwks": {"keys": [jwk]}, "scope": args.scope, "kind": args.kind}
    if args.organization:
        entry["organization"] = args.organization
    return entry


def make_client(args: argparse.Namespace) -> int:
    """Write a private key and print the SMART_CLIENTS entry for it (README "Access")."""
    path = Path(args.key or f"{args.id}.key.pem")
    jwk = write_new_key(path, args.force)
    entry = registration(args, jwk)
    parse_client(args.id, entry)
    print(json.dumps({args.id: entry}, indent=2))
    print(f"private key written to {path} (kid {jwk['kid']}); keep it secret", file=sys.stderr)
    return 0


def add_client(args: argparse.Namespace) -> int:
    """Add one registration to a SMART_CLIENTS file; an id already there is refused."""
    path = Path(args.file)
    entries = read_registrations(path)
    if args.id in entries:
        raise CommandError(f"client {args.id!r} is already registered in {path}; use add-key to rotate its key")
    if args.jwks_uri:
        entry = {"jwks_uri": args.jwks_uri, "scope": args.scope, "kind": args.kind}
        if args.organization:
            entry["organization"] = args.organization
        kid = None
    else:
        jwk = read_public_key(Path(args.public_key)) if args.public_key else \
            write_new_key(Path(args.key or f"{args.id}.key.pem"), args.force)
        entry, kid = registration(args, jwk), jwk["kid"]
    write_registrations(path, {**entries, args.id: entry})
    print(f"registered {args.id} ({args.kind}) in {path}" + (f" with kid {kid}" if kid else "")
          + "; restart the service to load it")
    return 0


def add_key(args: argparse.Namespace) -> int:
    """Rotate a client's key: add a new one beside the old (both verify), or retire an old kid."""
    path = Path(args.file)
    entries = read_registrations(path)
    entry = entries.get(args.id)
    if not isinstance(entry, dict) or "jwks" not in entry:
        raise CommandError(f"{path} has no client {args.id!r} with inline keys (jwks)")
    keys = list(entry["jwks"].get("keys", []))
    if args.retire:
        kept = [k for k in keys if k.get("kid") != args.retire]
        if len(kept) == len(keys) or not kept:
            raise CommandError(f"kid {args.retire!r} is not one of {args.id}'s keys, or is its last key")
        keys, note = kept, f"retired kid {args.retire}"
    else:
        jwk = read_public_key(Path(args.public_key)) if args.public_key else \
            write_new_key(Path(args.key or f"{args.id}.{int(time.time())}.key.pem"), args.force)
        keys, note = [*keys, jwk], f"added kid {jwk['kid']}"
    write_registrations(path, {**entries, args.id: {**entry, "jwks": {**entry["jwks"], "keys": keys}}})
    print(f"{args.id}: {note} in {path}; restart the service to load it")
    return 0


def kid_for(public: dict, clients: str | None, client: str) -> str:
    """The kid registered for this key: looked up in the clients file (or SMART_CLIENTS), else its thumbprint."""
    raw = Path(clients).read_text(encoding="utf-8") if clients else os.environ.get("SMART_CLIENTS", "")
    if raw.strip().startswith("@"):
        raw = Path(raw.strip()[1:]).read_text(encoding="utf-8")
    try:
        entries = json.loads(raw) if raw.strip() else {}
    except ValueError:
        entries = {}
    entry = entries.get(client) if isinstance(entries, dict) else None
    keys = entry.get("jwks", {}).get("keys", []) if isinstance(entry, dict) else []
    for key in keys:
        if isinstance(key, dict) and key.get("x") == public["x"] and key.get("y") == public["y"] and key.get("kid"):
            return str(key["kid"])
    return public["kid"]


def get_token(args: argparse.Namespace) -> int:
    """Print an access token for the client, got with a signed client assertion."""
    key = serialization.load_pem_private_key(Path(args.key).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CommandError(f"{args.key} is not an EC private key")
    now = int(time.time())
    signed = jwt.encode({"iss": args.client, "sub": args.client, "aud": args.token_url, "exp": now + 300,
                         "jti": uuid.uuid4().hex}, key, algorithm="ES384",
                        headers={"kid": kid_for(public_jwk(key), args.clients, args.client)})
    form = {"grant_type": "client_credentials", "scope": args.scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed}
    try:
        answer = HttpClient(timeout=30).post_form_sync(args.token_url, form, what="the token endpoint")
    except ApiError as exc:
        raise CommandError(f"no token: {exc.message}") from None
    print(answer["access_token"])
    return 0


def add_client_options(parser: argparse.ArgumentParser, scope: str) -> None:
    parser.add_argument("--id", required=True, help="the client id to register")
    parser.add_argument("--scope", default=scope, help="the most the client may ask for")
    parser.add_argument("--kind", default="provider", choices=("provider", "payer"),
                        help="provider clients submit; payer clients hold payer-side permissions")
    parser.add_argument("--organization", help="system|value of the provider organization it acts for")
    parser.add_argument("--key", help="where to write the new private key (default <id>.key.pem)")
    parser.add_argument("--force", action="store_true", help="replace an existing private key file")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """make-client, add-client, add-key and get-token on the besponsa-pa command."""
    make = sub.add_parser("make-client", formatter_class=Defaults, help="make a key pair and print its SMART_CLIENTS entry")
    add_client_options(make, PROVIDER_SCOPE)
    make.set_defaults(run=make_client)

    add = sub.add_parser("add-client", formatter_class=Defaults,
                         help="register a client in a SMART_CLIENTS file (a new key pair unless one is given)")
    add.add_argument("--file", required=True, help="the SMART_CLIENTS file (created if missing; SMART_CLIENTS=@FILE)")
    add_client_options(add, PROVIDER_SCOPE)
    source = add.add_mutually_exclusive_group()
    source.add_argument("--public-key", help="register this existing PEM key instead of making one")
    source.add_argument("--jwks-uri", help="register the client's https JWK Set URL instead of a key")
    add.set_defaults(run=add_client)

    key = sub.add_parser("add-key", formatter_class=Defaults, help="rotate a registered client's key in a SMART_CLIENTS file")
    key.add_argument("--file", required=True, help="the SMART_CLIENTS file")
    key.add_argument("--id", required=True, help="the registered client id")
    what = key.add_mutually_exclusive_group()
    what.add_argument("--public-key", help="add this existing PEM key instead of making one")
    what.add_argument("--retire", metavar="KID", help="remove the key with this kid (after the client switched)")
    key.add_argument("--key", help="where to write the new private key (default <id>.<time>.key.pem)")
    key.add_argument("--force", action="store_true", help="replace an existing private key file")
    key.set_defaults(run=add_key)

    token = sub.add_parser("get-token", formatter_class=Defaults, help="get an access token with a signed client assertion")
    token.add_argument("--client", required=True, help="the registered client id")
    token.add_argument("--key", required=True, help="the client's private key (PEM)")
    token.add_argument("--clients", help="the SMART_CLIENTS file, to find the key's kid (default: the SMART_CLIENTS "
                                         "setting, else the key's RFC 7638 thumbprint, as make-client registers it)")
    token.add_argument("--token-url", default=TOKEN_URL, help="the service's token endpoint")
    token.add_argument("--scope", default=TOKEN_SCOPE, help="the scopes to ask for")
    token.set_defaults(run=get_token)
