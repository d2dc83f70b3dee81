"""Balance Console: an operator console for a trading bot's Kraken balances."""

__version__ = "0.1.0"
