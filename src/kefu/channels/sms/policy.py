"""SMS's hybrid bot/human policy (the pipeline applies it; the manifest declares it)."""

from __future__ import annotations

from kefu.messaging.policy import HybridPolicy

# Each text is a command: the hall keeps answering while an agent holds a conversation (the
# agents' service number is a route of its own), no hand-off after misreads, and the
# assistant's own words announce a hand-off.
SMS_POLICY = HybridPolicy(
    silent_while_agent=False, handoff_after_misreads=0, announce_handoff=False
)
