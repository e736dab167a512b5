"""The feature set of a waiting customer, the same for a call-centre caller and a branch
ticket, so the same model code trains on either: the customers who will be served before this
one (``ahead``: same queue, priority at least theirs — priority customers jump the queue, so
counting everyone overstates the wait of a VIP and counting only the same priority understates
nobody's), everyone waiting in the centre or branch, the servers at work, the recent mean
service time and the wait of the last customer who reached a server (the "last to enter
service" predictor, strong in practice because queues change slowly), the arrival rate of the
last half hour, how many services finished in the last ten minutes (the pace right now), the
customer's priority and queue (call type or branch service), hour of day and weekday — and the
rule's own estimate, so the trees learn corrections to it rather than the whole shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields

from kefu.branch.prediction.baselines import rule_wait

PACE_WINDOW = 600  # seconds: ``served_10min`` counts services that finished in [t-600, t)


def ahead_with_priority(waiting_by_priority: Mapping[int, int], priority: int) -> int:
    """How many of the customers now waiting in one queue ({priority: how many}) a newcomer of
    ``priority`` has in front: every one of priority at least theirs (a higher one is called
    first, an equal one came earlier). The one rule for the call-centre log and the branch
    queues alike."""
    return sum(n for p, n in waiting_by_priority.items() if p >= priority)


@dataclass(frozen=True)
class QueueState:
    ahead: int  # same queue, priority >= the customer's (``ahead_with_priority``)
    waiting: int  # everyone waiting: the whole call-centre queue / every ticket of the branch
    servers: int
    mean_service: float  # seconds
    last_wait: float  # seconds; -1 when nobody has been served yet today
    recent_wait: float  # mean wait of the last five served; -1 when none
    arrivals_30min: int
    served_10min: int  # services finished in the last PACE_WINDOW seconds, all queues
    priority: int
    kind: int  # the customer's queue: index of the call type / the branch service (categorical)
    hour: float  # local time of day, 10.5 = 10:30
    weekday: int  # 0 = Monday

    @property
    def rule(self) -> float:
        """The baseline: the customers served first, then this one, at E[S]/c each."""
        return rule_wait(self.ahead, self.servers, self.mean_service)

    @property
    def load_rule(self) -> float:
        """The rule over everyone waiting: as a feature it validated better than ``rule``
        (call-centre days 13-16, model trained on days 1-12: MAE 53.0 s against 53.7 s),
        the servers being shared across queues."""
        return rule_wait(self.waiting, self.servers, self.mean_service)

    def vector(self) -> list[float]:
        return [float(v) for v in astuple(self)] + [self.load_rule]


FEATURES = [f.name for f in fields(QueueState)] + ["load_rule"]
CATEGORICAL = [FEATURES.index("kind")]  # the trees split it by category, not by order
