"""Every weight, band and threshold of the engagement model, in one configuration object."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from live.errors import InvalidInput


@dataclass(frozen=True)
class EngagementConfig:
    # Per-person session score weights (sum to 100).
    weight_attendance: float = 40.0
    weight_attention: float = 15.0
    weight_polls: float = 20.0
    weight_conversation: float = 15.0
    weight_signals: float = 10.0
    # Saturation scale n0 in 1 - e^(-n/n0) for conversation (chat + 2 x questions) and signals.
    conversation_scale: float = 3.0
    signals_scale: float = 3.0
    question_weight: float = 2.0
    # A minute spoken as a speaker from the audience counts as this many chat messages in conversation
    # (so 3 minutes on stage lift conversation as far as 3 messages do; 0 leaves speaking out).
    speaking_weight: float = 1.0
    # A person attended when present for at least this share of the session as run.
    attended_share: float = 0.5
    # Which sessions count (one odd session must not move an account). A session is scored only if it
    # ran at least `min_scored_minutes` and at least `min_scored_share` of its scheduled length; shorter
    # ones are kept and reported as "too short to score".
    min_scored_minutes: float = 5.0
    min_scored_share: float = 0.25
    # Invitees who did not come are no-shows only if the session ran at its time: live at the scheduled
    # start give or take `schedule_tolerance_minutes`, or for at least `on_schedule_share` of the window.
    schedule_tolerance_minutes: float = 10.0
    on_schedule_share: float = 0.5
    # Account roll-up.
    half_life_days: float = 30.0
    # Fewer scored sessions than this in the half-life window: engagement is None ("not enough data").
    min_evidence_sessions: int = 2
    kind_weights: dict[str, float] = field(
        # `on_demand`: a recording watched on its replay page by someone who did not come (half a webinar).
        default_factory=lambda: {"one_on_one": 1.5, "welcome_seminar": 1.2, "webinar": 1.0, "on_demand": 0.5}
    )
    # LTV and tier bands.
    gross_margin: float = 0.8
    monthly_churn: float = 0.02
    high_band: float = 600_000.0
    low_band: float = 60_000.0
    # At risk: early phases with engagement below this, or no attendance for this many days.
    at_risk_engagement: float = 35.0
    inactivity_days: float = 45.0
    # ...but only if its contacts were invited to at least this many sessions in that window; an
    # account nobody invited is "unengaged", not at risk.
    inactivity_min_invitations: int = 2
    # Phase rules.
    establishment_engagement: float = 60.0
    establishment_min_sessions: int = 3
    establishment_window_days: float = 60.0
    self_driving_engagement: float = 75.0
    self_driving_days: float = 90.0
    self_driving_min_contacts: int = 2
    regress_engagement: float = 35.0
    regress_days: float = 30.0
    # Stability.
    hysteresis: float = 5.0
    min_dwell_days: float = 14.0
    recover_evaluations: int = 2
    # Health bands: healthy at or above this engagement (and not at risk).
    healthy_engagement: float = 60.0

    @cached_property
    def version(self) -> str:
        """A short digest of every value, stored with each score and change it produced (computed once:
        every score and every change asks for it)."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def values(self) -> dict[str, Any]:
        """Every setting by name: the JSON stored with a configuration version."""
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> EngagementConfig:
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise InvalidInput(f"Engagement setting '{key}' is unknown.")
            current = getattr(self, key)
            if isinstance(current, dict):
                if not isinstance(value, dict):
                    raise InvalidInput(f"Engagement setting '{key}' has value {value!r}. Not an object.")
                bad = [v for v in value.values() if not isinstance(v, int | float) or isinstance(v, bool)]
                if bad:
                    raise InvalidInput(f"Engagement setting '{key}' has value {bad[0]!r}. Not a number.")
                changes[key] = {**current, **{str(k): float(v) for k, v in value.items()}}
            elif isinstance(current, int) and not isinstance(current, bool):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise InvalidInput(f"Engagement setting '{key}' has value {value!r}. Not an integer.")
                changes[key] = value
            else:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise InvalidInput(f"Engagement setting '{key}' has value {value!r}. Not a number.")
                changes[key] = float(value)
        for key, value in changes.items():
            check_range(key, value)
        return replace(self, **changes)


# Allowed ranges, (low, high) inclusive; a setting not listed only has to be a number >= 0. These keep
# a what-if from dividing by zero or turning a rule inside out (a share above 1, a negative half-life).
_RANGES: dict[str, tuple[float, float]] = {
    "attended_share": (0.0, 1.0),
    "min_scored_share": (0.0, 1.0),
    "on_schedule_share": (0.0, 1.0),
    "gross_margin": (0.0, 1.0),
    "monthly_churn": (0.0001, 1.0),
    "half_life_days": (0.01, 3650.0),
    "at_risk_engagement": (0.0, 100.0),
    "establishment_engagement": (0.0, 100.0),
    "self_driving_engagement": (0.0, 100.0),
    "regress_engagement": (0.0, 100.0),
    "healthy_engagement": (0.0, 100.0),
    "hysteresis": (0.0, 100.0),
    "recover_evaluations": (1, 1000),
}


def check_range(key: str, value: Any) -> None:
    """Refuses a value out of its setting's range, naming the setting, the value and the range."""
    if isinstance(value, dict):
        for kind, weight in value.items():
            if not math.isfinite(weight) or weight < 0:
                raise InvalidInput(f"Engagement setting '{key}.{kind}' has value {weight!r}. Must be 0 or more.")
        return
    low, high = _RANGES.get(key, (0.0, math.inf))
    if not math.isfinite(value) or not low <= value <= high:
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f"{low:g} or more"
        raise InvalidInput(f"Engagement setting '{key}' has value {value!r}. Must be {bounds}.")
