"""Money and response formatting in the planner's words (¥1,130,000 / ¥1.13M / 0.056 per ¥)."""

from __future__ import annotations

import math

#: ISO code -> symbol used in messages; other codes are printed as "XYZ 1,000".
SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "KRW": "₩"}


def symbol(currency: str | None) -> str:
    """The symbol (or "CODE ") of a currency code; "" when unknown."""
    if not currency:
        return ""
    return SYMBOLS.get(currency.upper(), currency.upper() + " ")


def money(amount: float, currency: str | None, compact: bool = False) -> str:
    """``money(1130000, "CNY")`` -> ``¥1,130,000``; ``compact=True`` -> ``¥1.13M``."""
    if amount is None or (isinstance(amount, float) and math.isnan(amount)):
        return "n/a"
    if math.isinf(amount):
        return ("-" if amount < 0 else "") + "unlimited"
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    sym = symbol(currency)
    if compact:
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if a >= div:
                return f"{sign}{sym}{a / div:.3g}{suffix}"
        return f"{sign}{sym}{a:.3g}"
    if a >= 100 or a == round(a):
        return f"{sign}{sym}{a:,.0f}"
    return f"{sign}{sym}{a:,.2f}"


def response_text(amount: float, response_unit: str, currency: str | None, compact: bool = False) -> str:
    """A response amount: money when response is revenue, else "N conversions"."""
    if response_unit == "currency":
        return money(amount, currency, compact)
    return f"{amount:,.4g} conversions" if compact else f"{amount:,.1f} conversions"


def rate_text(value: float, response_unit: str, currency: str | None) -> str:
    """A per-currency rate: ``¥0.056`` (revenue) or ``0.056 conversions``."""
    if value is None or not math.isfinite(value):
        return "unbounded" if value is not None and value > 0 else "n/a"
    if response_unit == "currency":
        sign = "-" if value < 0 else ""
        return f"{sign}{symbol(currency)}{abs(value):.3g}"
    return f"{value:.3g} conversions"


def spent_unit(currency: str | None) -> str:
    """What one currency unit is called in sentences: "¥", "$", "XYZ" or "currency unit"."""
    return symbol(currency).strip() or "currency unit"


def per_spent(value: float, response_unit: str, currency: str | None) -> str:
    """A ROI-type rate with its unit: ``¥0.056 per ¥ spent`` or ``0.056 conversions per ¥ spent``."""
    return f"{rate_text(value, response_unit, currency)} per {spent_unit(currency)} spent"
