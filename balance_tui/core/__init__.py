"""The balance engine: pure asyncio and stdlib, importable by a bot without the UI."""

from balance_tui.core.clock import Clock, SystemClock
from balance_tui.core.health import FeedHealth, FeedState
from balance_tui.core.manager import BalanceManager
from balance_tui.core.model import Balance

__all__ = ["Balance", "BalanceManager", "Clock", "FeedHealth", "FeedState", "SystemClock"]
