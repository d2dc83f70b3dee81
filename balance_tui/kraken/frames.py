"""Strict parsing of Kraken WebSocket v2 frames into typed values, amounts exact as Decimal.

Anything that is not what the protocol says raises `ParseError` naming the field; nothing else escapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from balance_tui.core.events import (
    AssetSnapshot,
    BalancesSnapshot,
    BalancesUpdate,
    ExecutionReport,
    ExecutionsSnapshot,
    ExecutionsUpdate,
    LedgerEntry,
    WalletBalance,
)

MAX_FRAME_BYTES = 1 << 20
# Bounds on any amount Kraken can mean. Outside them a "number" is an attack or a bug, and would cost
# memory to print: 1e-99999999999999999 is a valid Decimal with 10**17 zeros after the point.
MAX_PLACES = 18
MAX_WHOLE_DIGITS = 30
_WHOLE_LIMIT = 10**MAX_WHOLE_DIGITS


def is_amount(value: Decimal) -> bool:
    """Finite, at most MAX_PLACES decimal places and MAX_WHOLE_DIGITS digits before the point."""
    if not value.is_finite():
        return False  # checked first: a NaN's exponent is not a number
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -MAX_PLACES and value.adjusted() < MAX_WHOLE_DIGITS


class ParseError(ValueError):
    """A frame that breaks Kraken's protocol; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class SystemStatus:
    system: str  # online, maintenance, cancel_only, post_only
    connection_id: int | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class MethodReply:
    """The answer to a request we sent: subscribe/unsubscribe acks, errors and pongs."""

    method: str
    success: bool
    error: str = ""
    req_id: int | None = None
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OtherChannel:
    """Data on a channel this client does not read; harmless, so it is passed over, not rejected."""

    channel: str


Frame = (
    SystemStatus
    | Heartbeat
    | MethodReply
    | OtherChannel
    | BalancesSnapshot
    | BalancesUpdate
    | ExecutionsSnapshot
    | ExecutionsUpdate
)


def parse(raw: str | bytes) -> Frame:
    if len(raw) > MAX_FRAME_BYTES:
        raise ParseError(f"frame is {len(raw)} bytes, over the {MAX_FRAME_BYTES} byte limit")
    try:
        message = _decode(raw if isinstance(raw, str) else raw.decode())
    except ParseError:
        raise
    except ArithmeticError:
        raise ParseError("frame holds a number outside the range a decimal can hold") from None
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"frame is not valid JSON: {exc}") from None
    frame = _object(message, "frame")
    if "method" in frame:
        return _method_reply(frame)
    channel = _string(frame, "channel", "frame")
    if channel == "balances":
        return _balances(frame)
    if channel == "executions":
        return _executions(frame)
    if channel == "heartbeat":
        return Heartbeat()
    if channel == "status":
        data = _list(frame, "data", "status")
        if not data:
            raise ParseError("status.data: expected one status object, got an empty list")
        item = _object(data[0], "status.data[0]")
        connection_id = item.get("connection_id")
        if connection_id is not None and (not isinstance(connection_id, int) or isinstance(connection_id, bool)):
            raise ParseError(f"status.data[0].connection_id: expected an integer, got {connection_id!r}")
        return SystemStatus(_string(item, "system", "status.data[0]"), connection_id)
    return OtherChannel(channel)


def _method_reply(frame: dict[str, Any]) -> MethodReply:
    method = _string(frame, "method", "reply")
    req_id = frame.get("req_id")
    if req_id is not None and (not isinstance(req_id, int) or isinstance(req_id, bool)):
        raise ParseError(f"{method}.req_id: expected an integer, got {req_id!r}")
    if method == "pong":
        return MethodReply(method, True, req_id=req_id)
    success = frame.get("success")
    if not isinstance(success, bool):
        raise ParseError(f"{method}.success: expected true or false, got {success!r}")
    error = frame.get("error", "")
    if not isinstance(error, str):
        raise ParseError(f"{method}.error: expected a string, got {error!r}")
    result = frame.get("result", {})
    return MethodReply(method, success, error, req_id, _object(result, f"{method}.result"))


def _balances(frame: dict[str, Any]) -> BalancesSnapshot | BalancesUpdate:
    kind = _string(frame, "type", "balances")
    sequence = _integer(frame, "sequence", "balances")
    data = _list(frame, "data", "balances")
    if kind == "update":  # nearly every frame: one entry each
        return BalancesUpdate(tuple(map(_ledger, data, range(len(data)))), sequence)
    if kind == "snapshot":
        return BalancesSnapshot(tuple(_asset(item, f"balances.data[{i}]") for i, item in enumerate(data)), sequence)
    raise ParseError(f"balances.type: expected 'snapshot' or 'update', got {kind!r}")


def _executions(frame: dict[str, Any]) -> ExecutionsSnapshot | ExecutionsUpdate:
    kind = _string(frame, "type", "executions")
    sequence = _integer(frame, "sequence", "executions")
    reports = tuple(_report(item, f"executions.data[{i}]") for i, item in enumerate(_list(frame, "data", "executions")))
    if kind == "snapshot":
        return ExecutionsSnapshot(reports, sequence)
    if kind == "update":
        return ExecutionsUpdate(reports, sequence)
    raise ParseError(f"executions.type: expected 'snapshot' or 'update', got {kind!r}")


def _report(value: Any, path: str) -> ExecutionReport:
    item = _object(value, path)
    return ExecutionReport(
        order_id=_string(item, "order_id", path),
        exec_type=_string(item, "exec_type", path),
        order_status=_string(item, "order_status", path, default=""),
        symbol=_string(item, "symbol", path, default=""),
        side=_string(item, "side", path, default=""),
        order_qty=_optional_decimal(item, "order_qty", path),
        limit_price=_optional_decimal(item, "limit_price", path),
        cum_qty=_optional_decimal(item, "cum_qty", path),
        last_qty=_optional_decimal(item, "last_qty", path),
    )


def _asset(value: Any, path: str) -> AssetSnapshot:
    item = _object(value, path)
    wallets = tuple(_wallet(w, f"{path}.wallets[{j}]") for j, w in enumerate(_list(item, "wallets", path)))
    return AssetSnapshot(_string(item, "asset", path), _decimal(item, "balance", path), wallets)


def _wallet(value: Any, path: str) -> WalletBalance:
    item = _object(value, path)
    return WalletBalance(_string(item, "type", path), _string(item, "id", path), _decimal(item, "balance", path))


# The fields every ledger entry carries, in LedgerEntry's order: the ten before `category` and `subtype`.
_LEDGER_FIELDS = itemgetter(*LedgerEntry._fields[:10])


def _ledger(value: Any, index: int) -> LedgerEntry:
    """The usual entry (every field there and of its type) is checked in one pass over its values; anything
    else goes field by field through `_checked_ledger`, which names what is wrong."""
    try:
        ledger_id, ref_id, stamp, kind, asset, wallet_type, wallet_id, amount, fee, balance = _LEDGER_FIELDS(value)
        category, subtype = value.get("category", ""), value.get("subtype", "")
    except (KeyError, TypeError):  # not an object, or a field missing
        return _checked_ledger(value, f"balances.data[{index}]")
    amount, fee, balance = _number(amount), _number(fee), _number(balance)
    if (
        type(ledger_id) is str
        and type(ref_id) is str
        and type(stamp) is str
        and type(kind) is str
        and type(asset) is str
        and type(wallet_type) is str
        and type(wallet_id) is str
        and type(category) is str
        and type(subtype) is str
        and amount is not None
        and fee is not None
        and balance is not None
    ):
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return LedgerEntry(
                ledger_id, ref_id, moment, kind, asset, wallet_type, wallet_id, amount, fee, balance, category, subtype
            )
    return _checked_ledger(value, f"balances.data[{index}]")


def _checked_ledger(value: Any, path: str) -> LedgerEntry:
    """Field by field, so the error names the first field that is missing or wrong."""
    item = _object(value, path)
    return LedgerEntry(
        ledger_id=_string(item, "ledger_id", path),
        ref_id=_string(item, "ref_id", path),
        timestamp=_timestamp(item, "timestamp", path),
        type=_string(item, "type", path),
        asset=_string(item, "asset", path),
        wallet_type=_string(item, "wallet_type", path),
        wallet_id=_string(item, "wallet_id", path),
        amount=_decimal(item, "amount", path),
        fee=_decimal(item, "fee", path),
        balance=_decimal(item, "balance", path),
        category=_string(item, "category", path, default=""),
        subtype=_string(item, "subtype", path, default=""),
    )


def _reject_constant(name: str) -> None:
    raise ParseError(f"frame holds {name}, which is not a number Kraken sends")


def _amount_text(text: str) -> Decimal:
    """Every JSON number with a point or exponent becomes an exact Decimal, bounded from its text first:
    cheaper than inspecting the Decimal, and nothing huge is ever built."""
    if len(text) <= MAX_PLACES + 1 and "e" not in text and "E" not in text:
        return Decimal(text)  # the usual case: this short, a plain number is within both bounds
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, places = mantissa.lstrip("-").partition(".")
    shift = int(exponent) if exponent else 0
    if len(places) - shift > MAX_PLACES or len(whole.lstrip("0")) + shift > MAX_WHOLE_DIGITS:
        raise ParseError(
            f"frame holds the number {text[:40]}, beyond any amount ({MAX_PLACES} places, {MAX_WHOLE_DIGITS} digits)"
        )
    return Decimal(text)


# One decoder for every frame (json.loads would build a new one per call when given parse_float).
_DECODER = json.JSONDecoder(parse_float=_amount_text, parse_constant=_reject_constant)


def _decode(text: str) -> Any:
    """A frame as Kraken sends it, one JSON value from its first character to its last, is read by the
    decoder's scanner alone (what `decode` calls, without its two whitespace scans); anything else
    (whitespace around the value, data after it, no JSON at all) goes through `decode`, which says what
    is wrong as json says it."""
    try:
        value, end = _DECODER.scan_once(text, 0)
        if end == len(text):
            return value
    except StopIteration:
        pass
    return _DECODER.decode(text)


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _list(obj: dict[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise ParseError(f"{path}.{key}: expected a list, got {_shown(value)}")
    return value


def _string(obj: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise ParseError(f"{path}.{key}: expected a string, got {_shown(value)}")
    return value


def _integer(obj: dict[str, Any], key: str, path: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParseError(f"{path}.{key}: expected an integer, got {_shown(value)}")
    return value


def _decimal(obj: dict[str, Any], key: str, path: str) -> Decimal:
    value = obj.get(key)
    amount = _number(value)
    if amount is None:
        raise ParseError(f"{path}.{key}: expected a decimal number of at most {MAX_PLACES} places, got {_shown(value)}")
    return amount


def _number(value: Any) -> Decimal | None:
    """A decoded JSON value as an amount, or None if it is not one. Decimals were bounded as they were
    decoded; an integer is bounded here (no places, so only its digits)."""
    if type(value) is Decimal:
        return value
    if type(value) is int and -_WHOLE_LIMIT < value < _WHOLE_LIMIT:
        return Decimal(value)
    return None


def _optional_decimal(obj: dict[str, Any], key: str, path: str) -> Decimal | None:
    return None if obj.get(key) is None else _decimal(obj, key, path)


def _timestamp(obj: dict[str, Any], key: str, path: str) -> datetime:
    text = _string(obj, key, path)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"{path}.{key}: expected an RFC 3339 time, got {text!r}") from None
    if moment.tzinfo is None:
        raise ParseError(f"{path}.{key}: expected a time with a zone (like ...Z), got {text!r}")
    return moment


def _shown(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
