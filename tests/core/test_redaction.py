import base64
import logging
import subprocess
import sys
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from balance_tui.core.redaction import MASK, RedactingFormatter, SecretRegistry

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


def test_registered_values_are_masked_wherever_they_appear() -> None:
    secrets = SecretRegistry()
    secrets.add(SECRET)
    secrets.add("a-ws-token-1234567")
    text = secrets.redact(f"signing with {SECRET}; subscribe token=a-ws-token-1234567 failed")
    assert SECRET not in text and "a-ws-token-1234567" not in text
    assert text == f"signing with {MASK}; subscribe token={MASK} failed"


@pytest.mark.parametrize(
    ("line", "leak"),
    [
        (
            '> TEXT \'{"method":"subscribe","params":{"channel":"balances","token":"G38a1tGFzqGiUCmn"}}\'',
            "G38a1tGFzqGiUCmn",
        ),
        ("headers {'API-Key': 'abcdefghijklmnop', 'API-Sign': 'zyxwvutsrq=='}", "abcdefghijklmnop"),
        ("headers {'API-Key': 'abcdefghijklmnop', 'API-Sign': 'zyxwvutsrq=='}", "zyxwvutsrq=="),
        ("API-Sign: 4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8", "4/dpxb3iT4tp"),
    ],
)
def test_credential_shapes_are_masked_even_unregistered(line: str, leak: str) -> None:
    assert leak not in SecretRegistry().redact(line)


def test_short_values_are_not_registered() -> None:
    secrets = SecretRegistry()
    secrets.add("usd")
    assert secrets.redact("usd balance") == "usd balance"


def test_the_formatter_masks_tracebacks_too(caplog: pytest.LogCaptureFixture) -> None:
    from balance_tui.core.redaction import SECRETS

    SECRETS.add(SECRET)
    logger = logging.getLogger("test.redaction")
    try:
        raise RuntimeError(f"request failed with secret {SECRET}")
    except RuntimeError:
        record = logger.makeRecord("test", logging.ERROR, __file__, 1, "boom %s", (SECRET,), None)
        import sys

        record.exc_info = sys.exc_info()
    text = RedactingFormatter("%(message)s").format(record)
    assert SECRET not in text and SECRET[:8] not in text and SECRET[-8:] not in text
    assert text.count(MASK) == 2


KEY = "CanaryKey+0123456789abcdef/="  # '+', '/' and '=' change under URL encoding


@pytest.mark.parametrize("prefix", ["", "u", "us", "user:"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_forms_are_masked_wherever_they_start(prefix: str, encode: Callable[[bytes], bytes]) -> None:
    secrets = SecretRegistry()
    secrets.add(KEY)
    encoded = encode(f"{prefix}{KEY}".encode()).decode()  # as in `Authorization: Basic ...`
    text = secrets.redact(f"Authorization: Basic {encoded}")
    assert MASK in text
    assert encoded[8:28] not in text  # characters made of the key's bytes alone, wherever the key starts


@pytest.mark.parametrize("encode", [lambda v: quote(v, safe=""), quote_plus, quote])
def test_url_encoded_forms_are_masked(encode: Callable[[str], str]) -> None:
    secrets = SecretRegistry()
    secrets.add(KEY)
    assert encode(KEY) != KEY
    assert secrets.redact(f"POST /0/private/Balance?key={encode(KEY)}&x=1") == f"POST /0/private/Balance?key={MASK}&x=1"


def test_a_line_logged_before_any_handler_is_installed_is_masked_too() -> None:
    """With no handler configured (a console still starting, a bot that set up no logging) a record goes to
    Python's `logging.lastResort`; the secret it carries, in any form, must not reach stderr there either."""
    code = f"""
import base64, logging, sys
from urllib.parse import quote
from balance_tui.kraken.credentials import Credentials

Credentials.of({KEY!r}, {SECRET!r})
log = logging.getLogger("some.library")
log.warning("signing with %s for %s", {SECRET!r}, {KEY!r})
log.warning("GET /?key=%s auth %s", quote({KEY!r}, safe=""), base64.b64encode(b"user:" + {KEY!r}.encode()).decode())
try:
    raise RuntimeError("refused: " + {SECRET!r})
except RuntimeError:
    log.exception("a request failed")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    encoded = base64.b64encode(b"user:" + KEY.encode()).decode()[8:28]  # the key's bytes alone
    forms = (SECRET, SECRET[:8], SECRET[-8:], KEY, KEY[:8], quote(KEY, safe=""), encoded)
    assert [form for form in forms if form in result.stderr] == []
    assert result.stderr.count(MASK) == 5 and "Traceback" in result.stderr
