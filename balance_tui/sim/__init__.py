"""A Kraken-compatible exchange on loopback (REST + WS v2) serving a seeded demo account."""

from balance_tui.sim.account import Activity, DemoAccount, Execution, Fill, Order, WalletKey
from balance_tui.sim.faults import Faults, FaultSpecError, Fired, RestFailure, SystemStatus
from balance_tui.sim.server import Simulator

__all__ = [
    "Activity",
    "DemoAccount",
    "Execution",
    "FaultSpecError",
    "Faults",
    "Fill",
    "Fired",
    "Order",
    "RestFailure",
    "Simulator",
    "SystemStatus",
    "WalletKey",
]
