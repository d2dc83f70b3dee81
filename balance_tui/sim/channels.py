"""The WS v2 channels the simulator serves: balances and executions (private), ticker (public).

Each channel keeps its subscriptions by connection. Acks carry valid subscribe params only, because clients
replay an ack's `result` verbatim to resubscribe. Figures go out as JSON numbers with their exact digits.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from balance_tui.core.events import LedgerEntry
from balance_tui.sim.account import DemoAccount, Execution, Order
from balance_tui.sim.assets import PAIRS
from balance_tui.sim.auth import TokenRegistry
from balance_tui.sim.faults import Faults, Fired
from balance_tui.sim.market import Tickers
from balance_tui.sim.wire import dumps, rfc3339
from balance_tui.sim.ws import Connection, Message, Refused, error_reply, reply

MAX_RATE_COUNT = 125  # the trading rate counter's ceiling an executions ack reports (Intermediate tier)
_EVENT_TRIGGERS = ("trades", "bbo")


@dataclass
class _Subscription:
    options: dict[str, bool]
    sequence: int = 0  # last sequence number sent
    updates: int = 0  # updates sent, for the garble, skip and replay faults
    last: str | None = None  # the last frame sent, for the replay fault


class _PrivateChannel(ABC):
    """A token-gated channel whose frames carry a per-subscription `sequence`, +1 per frame (unless the
    skip or replay fault says otherwise)."""

    name: ClassVar[str]

    def __init__(self, tokens: TokenRegistry, faults: Faults) -> None:
        self._tokens = tokens
        self._faults = faults
        self._subscriptions: dict[Connection, _Subscription] = {}

    def has(self, connection: Connection) -> bool:
        return connection in self._subscriptions

    @property
    def subscribed(self) -> bool:
        """Whether any client is subscribed."""
        return bool(self._subscriptions)

    def subscribe(self, connection: Connection, request: Message, time_in: datetime) -> None:
        params = request["params"]
        self._check_token(params)
        options = self._options(params)
        if connection in self._subscriptions:
            raise Refused("Already subscribed", channel=self.name)
        connection.send(reply(request, time_in, result=self._ack(options), success=True))
        subscription = self._subscriptions[connection] = _Subscription(options)
        if (data := self._snapshot(options)) is not None:
            self._send(connection, subscription, "snapshot", data)

    def unsubscribe(self, connection: Connection, request: Message, time_in: datetime) -> None:
        self._check_token(request["params"])
        if connection not in self._subscriptions:
            raise Refused("Subscription Not Found", channel=self.name)
        self.forget(connection)
        connection.send(reply(request, time_in, result={"channel": self.name}, success=True))

    def forget(self, connection: Connection) -> None:
        self._subscriptions.pop(connection, None)

    def _check_token(self, params: Message) -> None:
        if not self._tokens.redeem(params.get("token")):
            raise Refused("ESession:Invalid session", channel=self.name)

    @abstractmethod
    def _options(self, params: Message) -> dict[str, bool]:
        """The subscription's options from its params, validated."""

    @abstractmethod
    def _ack(self, options: dict[str, bool]) -> Message:
        """The ack's `result`: valid subscribe params only."""

    @abstractmethod
    def _snapshot(self, options: dict[str, bool]) -> list[Message] | None:
        """The snapshot's data, or None when the subscription asked for none."""

    def _wants(self, subscription: _Subscription, item: Message) -> bool:
        """Whether this subscription is sent this update item."""
        return True

    def _publish(self, items: Iterable[Message]) -> int:
        """Queue each item as its own update frame to every subscription that wants it; returns the frames."""
        queued = 0
        for item in items:
            for connection, subscription in list(self._subscriptions.items()):
                if self._wants(subscription, item):
                    queued += self._send(connection, subscription, "update", [item])
        return queued

    def _send(self, connection: Connection, subscription: _Subscription, kind: str, data: list[Message]) -> bool:
        faults = self._faults
        subscription.sequence += 1
        update = kind == "update"
        if update:
            subscription.updates += 1
            if faults.skip_every and subscription.updates % faults.skip_every == 0:
                faults.fired[Fired.SKIP] += 1
                subscription.sequence += 1
        frame = {"channel": self.name, "type": kind, "data": data, "sequence": subscription.sequence}
        garbled = update and faults.garble_every and subscription.updates % faults.garble_every == 0
        text = faults.garble(frame) if garbled else dumps(frame)
        before, subscription.last = subscription.last, text
        sent = connection.send(text, data=True)
        if update and faults.replay_every and subscription.updates % faults.replay_every == 0:
            connection.send(faults.replay(text, text if before is None else before), data=True)
        return sent


class BalancesChannel(_PrivateChannel):
    """`balances`: a snapshot of every asset's wallets, then one update per ledger entry."""

    name = "balances"

    def __init__(
        self, account: DemoAccount, tokens: TokenRegistry, faults: Faults, on_unwatched: Callable[[], None]
    ) -> None:
        super().__init__(tokens, faults)
        self._account = account
        self._on_unwatched = on_unwatched

    def publish(self, entries: Iterable[LedgerEntry]) -> int:
        """Queue each entry as its own update frame for every subscriber; returns the frames queued."""
        return self._publish(_ledger_update(entry) for entry in entries)

    def forget(self, connection: Connection) -> None:
        """Drop the subscription; if it was the last, say so (the offline-asset fault waits for that)."""
        if connection in self._subscriptions:
            super().forget(connection)
            if not self._subscriptions:
                self._on_unwatched()

    def _options(self, params: Message) -> dict[str, bool]:
        return {"snapshot": _flag(params, "snapshot", True)}

    def _ack(self, options: dict[str, bool]) -> Message:
        return {"channel": self.name, "snapshot": options["snapshot"]}

    def _snapshot(self, options: dict[str, bool]) -> list[Message] | None:
        """One element per asset: its total and each wallet's balance."""
        if not options["snapshot"]:
            return None
        wallets: dict[str, list[Message]] = {}
        for wallet, amount in self._account.wallets().items():
            wallets.setdefault(wallet.asset, []).append({"type": wallet.type, "id": wallet.id, "balance": amount})
        totals = self._account.totals()
        return [
            {"asset": asset, "asset_class": "currency", "balance": totals[asset], "wallets": held}
            for asset, held in wallets.items()
        ]


class ExecutionsChannel(_PrivateChannel):
    """`executions`: open orders (and recent trades) in the snapshot, then one update per execution report."""

    name = "executions"

    def __init__(self, account: DemoAccount, tokens: TokenRegistry, faults: Faults) -> None:
        super().__init__(tokens, faults)
        self._account = account

    def publish(self, executions: Iterable[Execution]) -> int:
        """Queue each report as its own update frame; with order_status false, pending_new is left out."""
        return self._publish(_execution_report(execution) for execution in executions)

    def _wants(self, subscription: _Subscription, item: Message) -> bool:
        return subscription.options["order_status"] or item["exec_type"] != "pending_new"

    def _options(self, params: Message) -> dict[str, bool]:
        return {
            "snap_orders": _flag(params, "snap_orders", True),
            "snap_trades": _flag(params, "snap_trades", False),
            "order_status": _flag(params, "order_status", True),
            "ratecounter": _flag(params, "ratecounter", False),
        }

    def _ack(self, options: dict[str, bool]) -> Message:
        return {
            "channel": self.name,
            "maxratecount": MAX_RATE_COUNT,
            "snap_orders": options["snap_orders"],
            "snap_trades": options["snap_trades"],
        }

    def _snapshot(self, options: dict[str, bool]) -> list[Message] | None:
        if not (options["snap_orders"] or options["snap_trades"]):
            return None
        orders = [_open_order(order) for order in self._account.open_orders] if options["snap_orders"] else []
        trades = [_execution_report(trade) for trade in self._account.recent_fills] if options["snap_trades"] else []
        return orders + trades


class TickerChannel:
    """`ticker`: level-1 data per symbol; one ack and one snapshot per symbol subscribed, then an update for
    each symbol whenever the market moves. Public data carries no sequence."""

    name = "ticker"

    def __init__(self, tickers: Tickers) -> None:
        self._tickers = tickers
        self._symbols: dict[Connection, set[str]] = {}

    def has(self, connection: Connection) -> bool:
        return connection in self._symbols

    def subscribe(self, connection: Connection, request: Message, time_in: datetime) -> None:
        params = request["params"]
        symbols = _symbols(params)
        trigger = params.get("event_trigger", "trades")
        if trigger not in _EVENT_TRIGGERS:
            raise Refused(f"Invalid event_trigger: expected one of {', '.join(_EVENT_TRIGGERS)}")
        snapshot = _flag(params, "snapshot", True)
        for symbol in symbols:
            subscribed = self._symbols.get(connection, set())
            if symbol not in PAIRS:
                connection.send(error_reply(request, time_in, f"Currency pair not supported {symbol}", symbol=symbol))
                continue
            if symbol in subscribed:
                connection.send(error_reply(request, time_in, "Already subscribed", symbol=symbol))
                continue
            self._symbols[connection] = subscribed | {symbol}
            result = {"channel": self.name, "event_trigger": trigger, "snapshot": snapshot, "symbol": symbol}
            connection.send(reply(request, time_in, result=result, success=True))
            if snapshot:
                connection.send(self._frame("snapshot", symbol), data=True)

    def unsubscribe(self, connection: Connection, request: Message, time_in: datetime) -> None:
        for symbol in _symbols(request["params"]):
            subscribed = self._symbols.get(connection, set())
            if symbol not in subscribed:
                connection.send(error_reply(request, time_in, "Subscription Not Found", symbol=symbol))
                continue
            if subscribed == {symbol}:
                del self._symbols[connection]
            else:
                self._symbols[connection] = subscribed - {symbol}
            connection.send(reply(request, time_in, result={"channel": self.name, "symbol": symbol}, success=True))

    def forget(self, connection: Connection) -> None:
        self._symbols.pop(connection, None)

    def publish(self) -> None:
        """Queue each subscriber an update for each of its symbols, at the tickers' current values."""
        frames: dict[str, Message] = {}
        for connection, symbols in list(self._symbols.items()):
            for symbol in sorted(symbols):
                if symbol not in frames:
                    frames[symbol] = self._frame("update", symbol)
                connection.send(frames[symbol], data=True)

    def _frame(self, kind: str, symbol: str) -> Message:
        return {"channel": self.name, "type": kind, "data": [asdict(self._tickers[symbol])]}


def _flag(params: Message, name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise Refused(f"Invalid {name}: expected a boolean")
    return value


def _symbols(params: Message) -> list[str]:
    """The `symbol` param: a non-empty list of strings (a bare string is refused, as Kraken does)."""
    symbols = params.get("symbol")
    if not isinstance(symbols, list) or not symbols or not all(isinstance(symbol, str) for symbol in symbols):
        raise Refused("Symbol field must be an array")
    return symbols


def _ledger_update(entry: LedgerEntry) -> Message:
    return {
        "ledger_id": entry.ledger_id,
        "ref_id": entry.ref_id,
        "timestamp": rfc3339(entry.timestamp),
        "type": entry.type,
        "category": entry.category,
        "asset": entry.asset,
        "asset_class": "currency",
        "wallet_type": entry.wallet_type,
        "wallet_id": entry.wallet_id,
        "amount": entry.amount,
        "fee": entry.fee,
        "balance": entry.balance,
    }


def _terms(order: Order) -> Message:
    """What an order is: symbol, side, type, quantity, limit price (limit orders only), time in force."""
    terms: Message = {"symbol": order.pair.symbol, "side": order.side}
    if order.limit_price is None:
        return terms | {"order_type": "market", "order_qty": order.volume, "time_in_force": "IOC"}
    return terms | {
        "order_type": "limit",
        "order_qty": order.volume,
        "limit_price": order.limit_price,
        "time_in_force": "GTC",
    }


def _nothing_filled(order: Order) -> Message:
    zero = order.pair.quote.quantize(Decimal(0))
    return {"cum_qty": order.pair.quantize_volume(Decimal(0)), "cum_cost": zero, "avg_price": zero}


def _open_order(order: Order) -> Message:
    """A resting order as the executions snapshot lists it: its full terms, nothing filled yet."""
    return (
        {"order_id": order.order_id, "order_userref": 0, "exec_type": "new", "order_status": "new"}
        | _terms(order)
        | _nothing_filled(order)
        | {"timestamp": rfc3339(order.placed)}
    )


def _execution_report(execution: Execution) -> Message:
    """One report, as sparse as Kraken's: pending_new carries the order's terms, new and canceled little
    more than the status, trade the fill, filled the totals."""
    order, fill = execution.order, execution.fill
    report: Message = {"order_id": order.order_id, "order_userref": 0, "exec_type": execution.exec_type}
    match execution.exec_type:
        case "pending_new":
            report |= _terms(order) | {"order_status": "pending_new", "cum_cost": _nothing_filled(order)["cum_cost"]}
        case "new":
            report |= {"order_status": "new"}
        case "canceled":
            report |= {"order_status": "canceled", "reason": "User requested"} | _nothing_filled(order)
        case "trade":
            assert fill is not None
            report |= {
                "exec_id": fill.exec_id,
                "trade_id": fill.trade_id,
                "symbol": order.pair.symbol,
                "side": order.side,
                "order_type": "market" if order.limit_price is None else "limit",
                "order_status": "filled",
                "last_qty": fill.volume,
                "last_price": fill.price,
                "liquidity_ind": "m" if fill.maker else "t",
                "cost": fill.cost,
                "fees": [{"asset": order.pair.quote.name, "qty": fill.fee}],
                "fee_usd_equiv": fill.fee_usd,
            }
        case "filled":
            assert fill is not None
            report |= {
                "order_status": "filled",
                "cum_qty": fill.volume,
                "cum_cost": fill.cost,
                "avg_price": fill.price,
                "fee_usd_equiv": fill.fee_usd,
            }
    return report | {"timestamp": rfc3339(execution.timestamp)}
