"""One completed ledger transaction: what the WS v2 `balances` channel streams as an update."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class LedgerEntry:
    """A change to one wallet. The wallet moves by `amount - fee`; `balance` is the asset's total across
    all wallets afterwards, as Kraken's update frames report it."""

    ledger_id: str
    ref_id: str  # shared by both legs of a trade
    timestamp: datetime
    type: str  # trade, deposit, withdrawal, staking
    category: str  # trade, deposit, withdrawal, staking-rewards
    asset: str  # WS v2 name
    wallet_type: str  # spot or earn
    wallet_id: str  # main (spot); bonded (earn)
    amount: Decimal
    fee: Decimal
    balance: Decimal
