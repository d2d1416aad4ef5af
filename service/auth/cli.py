"""Commands for a backend client's first token (README "Access"): make a key pair and its
SMART_CLIENTS entry, and get an access token with a signed assertion (SMART Backend Services)."""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.auth.tokens import ASSERTION_TYPE
from service.errors import ApiError
from service.fhir.client import HttpClient


def make_client(args: argparse.Namespace) -> int:
    """Write an ES384 private key (PEM, 0600) and print the matching SMART_CLIENTS JSON."""
    key = ec.generate_private_key(ec.SECP384R1())
    path = Path(args.key or f"{args.id}.key.pem")
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    kid = uuid.uuid4().hex[:16]
    public = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "ES384",
              "use": "sig"}
    entry: dict = {"jwks": {"keys": [public]}, "scope": args.scope}
    if args.organization:
        entry["organization"] = args.organization
    print(json.dumps({args.id: entry}, indent=2))
    print(f"private key written to {path} (kid {kid}); keep it secret", file=sys.stderr)
    return 0


def get_token(args: argparse.Namespace) -> int:
    """Print an access token for the client (the kid is read from the SMART_CLIENTS file given)."""
    pem = Path(args.key).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    registration = json.loads(Path(args.clients).read_text()) if args.clients else {}
    keys = registration.get(args.client, {}).get("jwks", {}).get("keys", [])
    kid = keys[0]["kid"] if keys else None
    now = int(time.time())
    signed = jwt.encode({"iss": args.client, "sub": args.client, "aud": args.token_url, "exp": now + 300,
                         "jti": uuid.uuid4().hex}, key, algorithm="ES384",  # type: ignore[arg-type]
                        headers={"kid": kid} if kid else None)
    form = {"grant_type": "client_credentials", "scope": args.scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed}
    try:
        answer = HttpClient(timeout=30).post_form_sync(args.token_url, form, what="the token endpoint")
    except ApiError as exc:
        print(f"no token: {exc.message}", file=sys.stderr)
        return 1
    print(answer["access_token"])
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register make-client and get-token on the besponsa-pa command."""
    make = sub.add_parser("make-client", help="make a key pair and print its SMART_CLIENTS entry")
    make.add_argument("--id", required=True, help="the client id to register")
    make.add_argument("--scope", default="system/Claim.c system/ClaimResponse.rs system/QuestionnaireResponse.cu "
                                         "system/Subscription.cruds")
    make.add_argument("--organization", help="system|value of the provider organization it acts for")
    make.add_argument("--key", help="where to write the private key (default <id>.key.pem)")
    make.set_defaults(run=make_client)
    token = sub.add_parser("get-token", help="get an access token with a signed client assertion")
    token.add_argument("--client", required=True)
    token.add_argument("--key", required=True, help="the client's private key (PEM)")
    token.add_argument("--clients", help="the SMART_CLIENTS file make-client printed (for the kid)")
    token.add_argument("--token-url", default="http://localhost:8080/auth/token")
    token.add_argument("--scope", default="system/Claim.c system/ClaimResponse.rs")
    token.set_defaults(run=get_token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.auth.cli", description=__doc__)
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
