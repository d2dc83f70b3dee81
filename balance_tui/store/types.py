"""Column types that keep values exact and unambiguous on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from balance_tui.store.money import canonical


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python on every backend; SQLite has no zone, so naive values there are read as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing a naive datetime {value!r}: store times in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact Decimal: canonical decimal TEXT on SQLite, NUMERIC(38, 18) elsewhere.

    SQLite has no exact numeric type (`sa.Numeric` there silently stores a float), so amounts are kept as
    the text `canonical` writes. Both backends accept exactly the same values (at most 20 integer digits and
    18 places, finite, Decimal only) and read back the same canonical Decimal, so code never sees which
    backend it runs on.
    """

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[object]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | Decimal | None:
        if value is None:
            return None
        text = canonical(value)
        return text if dialect.name == "sqlite" else Decimal(text)

    def process_result_value(self, value: str | Decimal | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(canonical(Decimal(value)))
