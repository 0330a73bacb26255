"""Every weight, band and threshold of the engagement model, in one configuration object."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
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
    # A person attended when present for at least this share of the session as run.
    attended_share: float = 0.5
    # Account roll-up.
    half_life_days: float = 30.0
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

    @property
    def version(self) -> str:
        """A short digest of every value, stored with each score and change it produced."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

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
                changes[key] = {**current, **{str(k): float(v) for k, v in value.items()}}
            elif isinstance(current, int) and not isinstance(current, bool):
                if not isinstance(value, int):
                    raise InvalidInput(f"Engagement setting '{key}' has value {value!r}. Not an integer.")
                changes[key] = value
            else:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise InvalidInput(f"Engagement setting '{key}' has value {value!r}. Not a number.")
                changes[key] = float(value)
        return replace(self, **changes)
