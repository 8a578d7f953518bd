"""Secrets never leak. Known values are planted (an API token, a private key, OAuth client
assertions and DPoP proofs, an initial password, a reset link, a temporary password, a password
in an org URL), a full run is made with every log level on, and every place a secret could end
up is searched: log records, error messages and reprs, plan and report output, every journal
row, the simulator's state file, and the command's output."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import okta_lifecycle
from okta_lifecycle import OktaClient, OktaError, Policy
from okta_lifecycle.testing import OktaSimulator

ROOT = Path(__file__).resolve().parents[2]
KEY = (ROOT / "tests" / "fixtures" / "keys" / "ec-pkcs8.pem").read_text()
COMMAND = shutil.which("okta-lifecycle", path=str(Path(sys.executable).parent)) or "okta-lifecycle"

API_TOKEN = "00PLANTED-api-token-7f3c9e1b5d"
PASSWORD = "Planted-Initial-Passw0rd!"
URL_PASSWORD = "planted-url-password-55"

POLICY = """
name = "secrets"
[source]
format = "jsonl"
key = "login"
[attributes]
login = "{login}"
[[workflow]]
name = "reset"
actions = [ { action = "reset_password", send_email = false } ]
"""


def _b64(number: int) -> str:
    raw = number.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _public_jwk() -> dict[str, str]:
    key = load_pem_private_key(KEY.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), "the planted key is a P-256 key"
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x), "y": _b64(numbers.y), "kid": "planted"}


def _private_scalar() -> str:
    key = load_pem_private_key(KEY.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), "the planted key is a P-256 key"
    return _b64(key.private_numbers().private_value)


def test_planted_secrets_appear_nowhere(tmp_path: Path) -> None:
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(args)s"))
    logger = logging.getLogger("okta_lifecycle")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    okta_lifecycle.refresh_logging()
    seen: list[str] = []
    secrets = [API_TOKEN, PASSWORD, URL_PASSWORD, KEY.splitlines()[1], _private_scalar()]
    journal = tmp_path / "journal.sqlite"
    state = tmp_path / "org.json"
    try:
        with OktaSimulator(seed_users=2, state_file=state) as sim:
            sim.add_api_token(API_TOKEN)
            sim.register_oauth_app("0oaplanted", [_public_jwk()], ["okta.users.read", "okta.users.manage"], True)
            client = OktaClient(sim.url, api_token=API_TOKEN, journal=journal)
            user = client.users.create(
                {"login": "ada@acme.com", "email": "ada@acme.com", "firstName": "Ada", "lastName": "L"},
                password=PASSWORD,
                activate=True,
            )
            temporary = client.users.expire_password_with_temp_password(user)
            secrets.append(temporary.reveal())
            plan = client.plan(Policy.from_toml(POLICY), [{"login": "user1@example.com"}])
            report = client.apply(plan)
            secrets.extend(link.reveal() for link in report.reset_links.values())
            seen += [
                plan.render(),
                plan.to_json(),
                repr(plan),
                report.render(),
                repr(report),
                json.dumps(report.outcomes),
            ]
            seen += [repr(client), repr(user), str(temporary), repr(temporary), json.dumps(client.history(user.id))]

            oauth = OktaClient(
                sim.url, client_id="0oaplanted", private_key=KEY, key_id="planted", scopes=["okta.users.read"]
            )
            assert oauth.users.get("ada@acme.com").login == "ada@acme.com"
            seen.append(repr(oauth))
            wrong = OktaClient(sim.url, client_id="0oaunknown", private_key=KEY, scopes=["okta.users.read"])
            for attempt in (
                lambda: wrong.users.get("ada@acme.com"),
                lambda: OktaClient(f"http://admin:{URL_PASSWORD}@127.0.0.1:9", api_token=API_TOKEN),
                lambda: OktaClient(f"https://admin:{URL_PASSWORD}@acme.okta.com", api_token=API_TOKEN),
                lambda: client.users.create({"login": "ada@acme.com", "email": "ada@acme.com"}, password=PASSWORD),
                lambda: OktaClient(sim.url, client_id="x", private_key=KEY + "broken", scopes=["a"]),
            ):
                with pytest.raises(OktaError) as caught:
                    attempt()
                seen += [str(caught.value), repr(caught.value), repr(vars(caught.value))]

            environment = dict(os.environ, OKTA_API_TOKEN=API_TOKEN)
            for arguments in (["history", "ada@acme.com"], ["runs"], ["runs", "--json"]):
                result = subprocess.run(
                    [COMMAND, *arguments, "--org-url", sim.url, "--journal", str(journal)],
                    capture_output=True,
                    text=True,
                    env=environment,
                    timeout=60,
                )
                assert result.returncode == 0, result.stderr
                seen += [result.stdout, result.stderr]
        with sqlite3.connect(journal) as connection:
            for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                seen += [repr(row) for row in connection.execute(f"SELECT * FROM {table}")]  # noqa: S608
        seen.append(state.read_text())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        okta_lifecycle.refresh_logging()
    seen.append(log.getvalue())
    assert "okta request" in log.getvalue(), "the debug log was captured"
    everything = "\n".join(seen)
    for secret in secrets:
        assert secret and secret not in everything, f"a planted secret leaked: {secret[:6]}..."
    # Client assertions, DPoP proofs and OAuth access tokens are JWT-shaped or bearer values.
    assert "eyJ" not in everything, "a JWT (client assertion or DPoP proof) leaked"
    assert "SSWS " not in everything and "Bearer " not in everything and "DPoP ey" not in everything
