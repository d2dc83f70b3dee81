"""Kraken's private REST signature (API-Sign), per the "Spot REST Authentication" guide."""

import base64
import hashlib
import hmac


def sign(uri_path: str, nonce: str, body: str, secret_b64: str) -> str:
    """HMAC-SHA512 of path + SHA256(nonce + body), keyed by the decoded secret, base64-encoded."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()
