"""Who may talk to the simulated exchange: API-Sign checks for private REST, tokens for private WS.

The server side of Kraken's "Spot REST Authentication" guide, written independently of the client's signer
so a bug in one cannot hide the same bug in the other.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

_MAX_NONCE = 2**64 - 1  # Kraken nonces are unsigned 64-bit integers
TOKEN_LIFETIME_SECONDS = 900


class AuthError(Exception):
    """A rejected private request; the message is Kraken's error string, e.g. "EAPI:Invalid nonce"."""


class RequestVerifier:
    """Checks a private REST call's key, signature and nonce, and remembers the highest nonce of each key.

    `nonce_window` is Kraken's per-key setting, in nonce ticks (not seconds): a nonce up to that much below
    the highest one seen is still accepted, so requests that overtake each other on the way are not
    refused; as on Kraken, that also lets a repeated nonce through. 0, the default, means strictly increasing.
    """

    def __init__(self, secrets_by_key: Mapping[str, str], *, nonce_window: int = 0) -> None:
        if nonce_window < 0:
            raise ValueError(f"nonce_window must be >= 0, not {nonce_window}")
        self._secrets = {key: base64.b64decode(secret) for key, secret in secrets_by_key.items()}
        self._last_nonce = dict.fromkeys(self._secrets, 0)
        self._window = nonce_window

    def verify(self, path: str, api_key: str | None, api_sign: str | None, body: bytes, content_type: str) -> None:
        """Raise AuthError unless the request is signed by a known key with a fresh nonce.

        The signature covers the raw body bytes as sent, form-urlencoded or JSON alike:
        base64(HMAC-SHA512(secret, path + SHA256(nonce + body))).
        """
        if api_key is None or api_key not in self._secrets:
            raise AuthError("EAPI:Invalid key")
        nonce = _nonce_text(body, content_type)
        digest = hashlib.sha256((nonce or "").encode() + body).digest()
        expected = base64.b64encode(hmac.new(self._secrets[api_key], path.encode() + digest, hashlib.sha512).digest())
        if api_sign is None or not hmac.compare_digest(expected, api_sign.encode()):
            raise AuthError("EAPI:Invalid signature")
        last = self._last_nonce[api_key]
        if nonce is None or not _follows(nonce, last - self._window):
            raise AuthError("EAPI:Invalid nonce")
        self._last_nonce[api_key] = max(last, int(nonce))


def _follows(nonce: str, floor: int) -> bool:
    """Whether `nonce` is an unsigned 64-bit integer strictly greater than `floor`."""
    return nonce.isascii() and nonce.isdecimal() and floor < int(nonce) <= _MAX_NONCE


def _nonce_text(body: bytes, content_type: str) -> str | None:
    """The nonce exactly as the client wrote it into the body (and so signed it), or None if absent."""
    try:
        if content_type.split(";", maxsplit=1)[0].strip() == "application/json":
            payload = json.loads(body) if body else {}
            nonce = payload.get("nonce") if isinstance(payload, dict) else None
        else:
            nonce = parse_qs(body.decode(), keep_blank_values=True).get("nonce", [None])[0]
    except (UnicodeDecodeError, ValueError) as error:
        raise AuthError("EGeneral:Invalid arguments") from error
    if isinstance(nonce, bool):
        return None
    return str(nonce) if isinstance(nonce, (int, str)) else None


class TokenRegistry:
    """WebSocket tokens from GetWebSocketsToken. As on Kraken, a token must be used within 15 minutes of
    being issued; once used it stays valid."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._issued_at: dict[str, float] = {}
        self._used: set[str] = set()

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self._issued_at[token] = self._clock()
        return token

    def revoke(self, token: str) -> None:
        """Invalidate one token: subscribing with it gets ESession:Invalid session."""
        self._issued_at.pop(token, None)
        self._used.discard(token)

    def revoke_all(self) -> None:
        """Invalidate every token issued so far, as Kraken's maintenance does: a client that resubscribes with
        an old token gets ESession:Invalid session."""
        self._issued_at.clear()
        self._used.clear()

    def redeem(self, token: object) -> bool:
        """Whether `token` may open a private subscription; marks it used if so."""
        if not isinstance(token, str) or token not in self._issued_at:
            return False
        if token not in self._used and self._clock() - self._issued_at[token] > TOKEN_LIFETIME_SECONDS:
            return False
        self._used.add(token)
        return True
