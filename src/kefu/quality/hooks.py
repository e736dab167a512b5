"""What quality does when a conversation closes (called by kefu.routing.service.close, in the
closing transaction): ask the customer for a CSAT score. Inspection is left to the quality
worker (kefu.quality.worker): it loads the language models, which a close must not wait for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation
from kefu.quality import csat
from kefu.quality.settings import QualitySettings

_settings = QualitySettings()


def configure(settings: QualitySettings) -> None:
    """The running process's settings (the quality worker sets them when it starts)."""
    global _settings
    _settings = settings


def current() -> QualitySettings:
    return _settings


async def conversation_closed(db: AsyncSession, conversation: Conversation, now: datetime) -> None:
    await csat.ask(db, conversation, now, _settings)
