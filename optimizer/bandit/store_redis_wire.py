"""The Redis store's hot-path script calls over one dedicated connection (issue #14).

``redis.Redis`` spends most of its client CPU per command outside the wire: taking a connection
from the pool and giving it back, the retry wrapper, command-name lookups, observability hooks.
Measured per ``EVALSHA`` of the reserve script (5,000 calls, hiredis installed, loaded 2-core VM,
01:51 UTC): 27-34 us CPU through ``Script.__call__`` against 9-12 us packing the command and
reading the reply on one connection held by the store. A ``choose`` and a ``reward`` are two
scripts each, so this saves ~40 us of worker CPU per operation; the wire traffic is the same.

The connection is made from the client's own pool settings (``redis://``, ``rediss://``,
``unix://``, password, db, timeouts), used only under the store's lock (one caller at a time), and
dropped after any error whose reply state is unknown; the next call reconnects.

Retries: a call that could not be *sent* (the server restarted, the connection was stale) is sent
once more on a fresh connection: the script did not run. A call whose reply was lost is retried
only for the scripts the caller declares safe to repeat (the reserve script: a repeat costs at
most an unused decision number; the reward read: it writes nothing); the decision write and the
reward commit are not repeated (a repeated write would count its decisions twice) and their
error reaches the caller (503 in the service: the request is unacknowledged, as with any lost
answer; a resent reward is then answered as a duplicate if the first one was applied).
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence


class ScriptCaller:
    """``EVALSHA`` of known scripts on one connection of ``client``'s pool (not thread-safe)."""

    def __init__(self, client: Any):
        self._client = client
        self._conn: Any = None
        self._sha: dict[str, str] = {}

    def __call__(self, script: str, keys: Sequence[str], args: Sequence[Any], retry_lost_reply: bool) -> Any:
        import redis

        sha = self._sha.get(script)
        if sha is None:
            sha = self._sha[script] = hashlib.sha1(script.encode()).hexdigest()
        for attempt in (0, 1):
            conn = self._conn
            if conn is None:
                conn = self._conn = self._client.connection_pool.make_connection()
            packed = conn.pack_command("EVALSHA", sha, len(keys), *keys, *args)
            try:
                conn.send_packed_command(packed, check_health=False)
            except (redis.ConnectionError, redis.TimeoutError):
                self.close()
                if attempt == 0:
                    continue  # not sent: the script did not run; once more on a new connection
                raise
            try:
                return conn.read_response()
            except redis.exceptions.NoScriptError:  # a restarted or flushed server: load, run again
                self._client.script_load(script)
                conn.send_packed_command(packed, check_health=False)
                return conn.read_response()
            except redis.ResponseError:
                raise  # the script's own error; the connection is in a clean state
            except BaseException:
                self.close()  # a reply may be unread: never reuse this connection
                if attempt == 0 and retry_lost_reply:
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Drop the connection (the next call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass
