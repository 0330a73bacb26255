"""Tiers, phases, health and the LTV arithmetic: plain values, no I/O."""

from __future__ import annotations

import re
from enum import StrEnum


class Tier(StrEnum):
    HIGH = "high"
    LOW = "low"
    TECH = "tech"


# Ordered from least to most attention; "raised one step" moves right.
TIER_ORDER: tuple[Tier, ...] = (Tier.TECH, Tier.LOW, Tier.HIGH)


class Phase(StrEnum):
    ONBOARDING = "onboarding"
    ESTABLISHMENT = "establishment"
    UTILIZATION = "utilization"
    SELF_DRIVING = "self_driving"


PHASE_ORDER: tuple[Phase, ...] = (Phase.ONBOARDING, Phase.ESTABLISHMENT, Phase.UTILIZATION, Phase.SELF_DRIVING)


class Health(StrEnum):
    HEALTHY = "healthy"
    NEUTRAL = "neutral"
    AT_RISK = "at_risk"
    # Nobody attended for the inactivity window, and nobody was invited enough to call it a choice.
    UNENGAGED = "unengaged"


class Source(StrEnum):
    ENGINE = "engine"
    MANUAL = "manual"


def lifetime_value(mrr: float, gross_margin: float, monthly_churn: float) -> float:
    """LTV = MRR × gross margin ÷ monthly churn."""
    return mrr * gross_margin / monthly_churn


def tier_for_ltv(ltv: float, high_band: float, low_band: float) -> Tier:
    if ltv >= high_band:
        return Tier.HIGH
    if ltv >= low_band:
        return Tier.LOW
    return Tier.TECH


def raise_tier(tier: Tier) -> Tier:
    index = TIER_ORDER.index(tier)
    return TIER_ORDER[min(index + 1, len(TIER_ORDER) - 1)]


# A DNS name: labels of letters, digits and inner hyphens, at least two of them ("acme.com").
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_domain(value: str | None) -> str | None:
    """`"  ACME.com. "` → `"acme.com"`; empty → None; anything that is not a domain name raises ValueError."""
    if value is None:
        return None
    domain = value.strip().lower().rstrip(".")
    if domain.startswith("@"):
        domain = domain[1:]
    if not domain:
        return None
    if not _DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not a domain name like 'example.com'")
    return domain
