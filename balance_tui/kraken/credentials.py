"""API credentials held in masked types, so they never reach logs, tracebacks or the screen."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from pydantic import SecretStr

from balance_tui.core.redaction import SECRETS


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: SecretStr
    api_secret: SecretStr

    @classmethod
    def of(cls, api_key: str, api_secret: str) -> Credentials:
        """Check the shape here, so a pasted-wrong secret fails at start, not on the first signed call."""
        key, secret = api_key.strip(), api_secret.strip()
        if not key:
            raise ValueError("the API key is empty")
        # It is sent as an HTTP header and names the nonce file: text that cannot be one is a paste gone wrong.
        if not (key.isascii() and key.isprintable()) or any(c.isspace() for c in key):
            raise ValueError("the API key is not printable ASCII without spaces (copy it exactly as Kraken shows it)")
        if not secret:
            raise ValueError("the API secret is empty")
        try:
            base64.b64decode(api_secret, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "the API secret is not valid base64 (copy the private key exactly as Kraken shows it)"
            ) from None
        SECRETS.add(key)  # from here on, no log line can carry them
        SECRETS.add(secret)
        return cls(SecretStr(key), SecretStr(secret))
