"""Money is CNY in Decimal, to the fen (RULEBOOK §1)."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")


def to_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def percent_of(
    base: Decimal,
    percent: Decimal,
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Decimal:
    """`percent` % of `base`, floored and capped on the exact value, then rounded half up to the fen."""
    exact = base * percent / Decimal(100)
    if minimum is not None and exact < minimum:
        exact = minimum
    if maximum is not None and exact > maximum:
        exact = maximum
    return to_fen(exact)
