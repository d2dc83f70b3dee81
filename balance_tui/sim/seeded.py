"""Seeded draws for the demo account: Decimal fractions without floats, and Kraken-looking ids.

Everything random in the account comes from one `random.Random`, so a seed fixes the whole history; only
its ids also depend on the run, as Kraken's never repeat.
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


class KrakenIds:
    """Ids shaped like Kraken's for one run of a seeded account. Kraken never reuses an id, and the store keeps
    one ledger entry per id, so a rerun of a seed must mint new ones: each character is the account's own
    draw (so its RNG, and with it the seed's activity, is the same on every run) shifted by a draw from a
    generator keyed by the `run` (the seed and the start instant, say)."""

    def __init__(self, rng: random.Random, run: str) -> None:
        self._rng = rng
        self._run = random.Random(run)

    def __call__(self, prefix: str, head: int = 6) -> str:
        """`prefix` plus base32 to `head` characters, then groups of 5 and 6."""

        def chars(count: int) -> str:
            size = len(_ID_ALPHABET)
            return "".join(
                _ID_ALPHABET[(self._rng.randrange(size) + self._run.randrange(size)) % size] for _ in range(count)
            )

        return f"{prefix}{chars(head - len(prefix))}-{chars(5)}-{chars(6)}"
