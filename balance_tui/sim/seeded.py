"""Seeded draws for the demo account: Decimal fractions without floats, and Kraken-looking ids.

Everything random in the account comes from one `random.Random`, so a seed fixes the whole history.
"""

import random
from decimal import Decimal

_STEPS = 1_000_000
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # Kraken ids are base32 capitals, e.g. L4UESK-KG3EQ-UFO4T5


def fraction(rng: random.Random) -> Decimal:
    """A uniform draw from [0, 1) in millionths, as an exact Decimal."""
    return Decimal(rng.randrange(_STEPS)) / _STEPS


def uniform(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    """A uniform draw from [low, high), exact to a millionth of the range."""
    return low + (high - low) * fraction(rng)


def kraken_id(rng: random.Random, prefix: str, head: int = 6) -> str:
    """An id shaped like Kraken's: `prefix` plus base32 to `head` characters, then groups of 5 and 6."""

    def chars(count: int) -> str:
        return "".join(rng.choice(_ID_ALPHABET) for _ in range(count))

    return f"{prefix}{chars(head - len(prefix))}-{chars(5)}-{chars(6)}"
