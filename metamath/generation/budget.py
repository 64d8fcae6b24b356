"""What a request costs, and the cap a run may not pass (teacher.max_cost_usd, max_requests).

A request is admitted only if the run's spend so far, plus every request in flight at its
upper bound, plus this one at its upper bound stays within the cap. The upper bound of a request
is its prompt at one token per UTF-8 byte of its JSON (a byte-level tokenizer never makes more
tokens than bytes, and the JSON's quotes and keys outweigh a chat template's few special tokens)
plus `max_tokens` for every sample asked. When it comes back, its real usage replaces the bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metamath.config import TeacherConfig


def cost_usd(prices: dict[str, float], prompt_tokens: float, completion_tokens: float) -> float:
    return (prompt_tokens * prices.get("prompt", 0.0) + completion_tokens * prices.get("completion", 0.0)) / 1e6


def prompt_bound(messages_json: str) -> int:
    """An upper bound on a prompt's tokens (see the module's note)."""
    return len(messages_json.encode())


@dataclass
class Budget:
    """One run's cap and what it has spent; lives in the limiter (plain Python, unit-testable)."""

    max_cost_usd: float | None = None
    max_requests: int | None = None
    prices: dict[str, float] = field(default_factory=dict)
    spent_usd: float = 0.0
    in_flight_usd: float = 0.0  # upper bounds of the requests not yet back
    started: int = 0
    refused: int = 0  # requests not started because of the cap

    @classmethod
    def of(cls, cfg: TeacherConfig) -> "Budget | None":
        if cfg.max_cost_usd is None and cfg.max_requests is None:
            return None
        return cls(cfg.max_cost_usd, cfg.max_requests, dict(cfg.price_per_million))

    def admit(self, bound_usd: float) -> bool:
        over_cost = self.max_cost_usd is not None and self.spent_usd + self.in_flight_usd + bound_usd > self.max_cost_usd
        over_count = self.max_requests is not None and self.started >= self.max_requests
        if over_cost or over_count:
            self.refused += 1
            return False
        self.started += 1
        self.in_flight_usd += bound_usd
        return True

    def settle(self, bound_usd: float, actual_usd: float | None) -> None:
        """A request came back: its bound leaves the in-flight sum, its real cost joins the spend.
        Without usage (an error), a timeout may still have been billed: its bound is kept."""
        self.in_flight_usd = max(0.0, self.in_flight_usd - bound_usd)
        self.spent_usd += bound_usd if actual_usd is None else actual_usd

    def summary(self) -> dict:
        return {"max_cost_usd": self.max_cost_usd, "max_requests": self.max_requests,
                "spent_usd": round(self.spent_usd, 6), "started": self.started, "refused": self.refused}


def remaining(cfg: TeacherConfig, spent_usd: float, sent: int) -> TeacherConfig:
    """The teacher config for a later round of the same run: its caps less what was spent."""
    update = {}
    if cfg.max_cost_usd is not None:
        update["max_cost_usd"] = max(1e-9, cfg.max_cost_usd - spent_usd)
    if cfg.max_requests is not None:
        update["max_requests"] = max(1, cfg.max_requests - sent)
    return cfg.model_copy(update=update)


def exhausted(cfg: TeacherConfig, spent_usd: float, sent: int) -> bool:
    return ((cfg.max_cost_usd is not None and spent_usd >= cfg.max_cost_usd)
            or (cfg.max_requests is not None and sent >= cfg.max_requests))
