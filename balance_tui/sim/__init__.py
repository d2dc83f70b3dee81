"""A Kraken-compatible exchange on loopback (REST + WS v2) serving a seeded demo account."""

from balance_tui.sim.account import DemoAccount, OpenOrder, WalletKey
from balance_tui.sim.server import Simulator

__all__ = ["DemoAccount", "OpenOrder", "Simulator", "WalletKey"]
