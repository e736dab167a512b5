"""The feature set of a waiting customer, the same for a call-centre caller and a branch
ticket, so the same model code trains on either: the queue in front (``ahead``), the servers
at work, the recent mean service time and the wait of the last customer who reached a server
(the "last to enter service" predictor, strong in practice because queues change slowly), the
arrival rate of the last half hour, priority, hour of day and weekday — and the rule's own
estimate, so the trees learn corrections to it rather than the whole shape."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from kefu.branch.prediction.baselines import rule_wait


@dataclass(frozen=True)
class QueueState:
    ahead: int
    servers: int
    mean_service: float  # seconds
    last_wait: float  # seconds; -1 when nobody has been served yet today
    recent_wait: float  # mean wait of the last five served; -1 when none
    arrivals_30min: int
    priority: int
    hour: float  # local time of day, 10.5 = 10:30
    weekday: int  # 0 = Monday

    @property
    def rule(self) -> float:
        return rule_wait(self.ahead, self.servers, self.mean_service)

    def vector(self) -> list[float]:
        return [float(v) for v in astuple(self)] + [self.rule]


FEATURES = [f.name for f in fields(QueueState)] + ["rule"]
