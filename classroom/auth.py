"""The classroom hub's log-in: one generated password per learner (classroom/hub.py makes them).

The hub reads salted PBKDF2 hashes from a root-only file at every log-in, so
``./course.sh hub --reset-password NAME`` takes effect without a restart. The hashing runs in a
thread (it takes a tenth of a second; the hub's event loop serves everyone else meanwhile), and
an unknown name or an empty password costs the same work as a known one: how long a refusal
takes does not tell which names exist. ``classroom/jupyterhub_config.py`` loads this file.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets

PBKDF2_ROUNDS = 200_000  # classroom/hub.py hashes with the same number
_DUMMY_SALT = secrets.token_bytes(16)
_DUMMY_HASH = hashlib.pbkdf2_hmac("sha256", b"no such learner", _DUMMY_SALT, PBKDF2_ROUNDS).hex()


def check_password(path: str, name: str, password: str) -> str | None:
    """``name`` if ``password`` is that learner's in the hashes file ``path``, else None (same work either way)."""
    try:
        with open(path, encoding="utf-8") as fh:
            entries = json.load(fh)
    except (OSError, ValueError):
        entries = {}
    entry = entries.get(name) if isinstance(entries, dict) and isinstance(name, str) and name else None
    try:
        salt, rounds, expected = bytes.fromhex(entry["salt"]), int(entry["rounds"]), str(entry["hash"])
        known = 0 < rounds <= 10 * PBKDF2_ROUNDS
    except (TypeError, KeyError, ValueError):
        known = False
    if not known:
        salt, rounds, expected = _DUMMY_SALT, PBKDF2_ROUNDS, _DUMMY_HASH
    if not isinstance(password, str):
        password = ""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "surrogatepass"), salt, rounds).hex()
    matches = hmac.compare_digest(digest, expected)
    return name if matches and known and password else None


try:
    from jupyterhub.auth import Authenticator
    from traitlets import Unicode
except ImportError:  # the course's own environment (unit tests) has no JupyterHub: check_password still works
    Authenticator = None

if Authenticator is not None:

    class WorkshopAuthenticator(Authenticator):
        """One generated password per learner, checked against salted PBKDF2 hashes in a root-only file."""

        passwords_file = Unicode("", config=True, help="the root-only JSON file of salted PBKDF2 hashes")

        async def authenticate(self, handler, data):
            data = data or {}
            name = self.normalize_username(str(data.get("username", "")))
            password = data.get("password", "")
            return await asyncio.to_thread(check_password, self.passwords_file, name, password)
