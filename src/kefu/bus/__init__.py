"""The event bus: what must cross processes, behind one interface with two engines.

- ``InProcessBus`` (the embedded default): one process, nothing to run.
- ``RedisBus`` (``KEFU_BUS_URL=redis://…``): Redis Streams, so several web workers, the SMS
  gateway and consumers (``kefu run …``) on one or many machines share the events.

Two kinds of traffic (``kefu.bus.base.Bus``):

- **signals** (``publish``/``subscribe``): broadcast, every subscriber sees every event published
  after it subscribed — live pages learning that something changed. Losing one is harmless (the
  page re-reads on the next), so they are bounded and never block a writer.
- **work** (``enqueue``/``claim``/``ack``): each entry goes to one consumer of a group and stays
  pending until acknowledged; an entry whose consumer died is claimed again after ``min_idle``
  seconds by another, and after ``max_deliveries`` tries it is set aside as dead, not retried
  forever. Nothing enqueued is dropped silently.
"""

from kefu.bus.base import Bus, Delivery
from kefu.bus.factory import make_bus

__all__ = ["Bus", "Delivery", "make_bus"]
