"""Keyed-hash pseudonyms for customer ids (HMAC-SHA256).

``pseudonym(id) = hex(HMAC-SHA256(key, utf8(id)))[:32]`` (128 bits: collisions are negligible for
any customer base). The same key gives the same pseudonym in every run, so files can be joined
across runs without raw ids; without the key a pseudonym cannot be reversed or recomputed from a
guessed id. The key comes from a file (``pseudonym_key_file``) or an environment variable
(``pseudonym_key_env``, default ``DMPOPT_PSEUDONYM_KEY``) and is never written to any output, log
or report (tested).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from optimizer.errors import ScenarioError

MIN_KEY_BYTES = 16


def load_key(env_var: str, key_file: str | Path | None = None) -> bytes:
    """The HMAC key from ``key_file`` (whitespace stripped) or the environment; errors say how to set it."""
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as exc:
            raise ScenarioError(f"segments.pseudonym_key_file {str(key_file)!r} cannot be read ({exc.strerror}).") from None
        where = f"file {key_file}"
    else:
        key = os.environ.get(env_var, "").encode()
        where = f"environment variable {env_var}"
    if len(key) < MIN_KEY_BYTES:
        raise ScenarioError(
            f"pseudonymize is on but the key from {where} has {len(key)} byte(s); it needs >= {MIN_KEY_BYTES}. "
            f"Suggestion: export {env_var}=$(openssl rand -hex 32), or set segments.pseudonym_key_file.")
    return key


def pseudonymize(ids, key: bytes) -> list[str]:
    """HMAC-SHA256 pseudonyms (32 hex characters) of the ids, in order."""
    out = []
    new = hmac.new
    for i in ids:
        out.append(new(key, str(i).encode("utf-8"), hashlib.sha256).hexdigest()[:32])
    return out
