"""What cross-selling stores: offer outcomes the agents record, and customers' risk
assessments (风险测评) as the bank's assessment desk hands them over."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow

OUTCOMES = ("offered", "interested", "accepted", "declined", "not_suitable")


class OfferOutcome(Base):
    """One outcome of one offer. ``occasion`` is the conversation ("c123") or, without one, the
    day ("d2026-12-06"): the same outcome recorded twice on one occasion is one row."""

    __tablename__ = "crosssell_outcomes"
    __table_args__ = (
        UniqueConstraint(
            "customer_no", "product_code", "outcome", "occasion", name="uq_crosssell_outcomes_once"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_no: Mapped[str] = mapped_column(String(32), index=True)
    product_code: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    occasion: Mapped[str] = mapped_column(String(24))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RiskAssessment(Base):
    """The customer's latest risk assessment: level C1..C5 as 1..5."""

    __tablename__ = "crosssell_risk_assessments"

    customer_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    assessed_on: Mapped[date] = mapped_column(Date)


CAMPAIGN_STATES = ("draft", "running", "finished")
CHANNELS = ("sms", "wechat", "webchat")


class Campaign(Base):
    """A governed marketing campaign for one product. ``sub_code`` is its own extended SMS
    code (service number + sub-code): replies to it come back to this campaign. Treated and
    hold-out customers are drawn once, at start, and kept in ``crosssell_campaign_members``."""

    __tablename__ = "crosssell_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    product_code: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    template_name: Mapped[str] = mapped_column(String(64))
    sub_code: Mapped[str] = mapped_column(String(8), unique=True)
    segment: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the segment's filters
    holdout_share: Mapped[float] = mapped_column(Float, default=0.2)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    attribution_days: Mapped[int] = mapped_column(Integer, default=30)
    cost_per_message: Mapped[float] = mapped_column(Float, default=0.03)  # yuan
    value_per_conversion: Mapped[float] = mapped_column(Float, default=0.0)  # yuan
    max_audience: Mapped[int] = mapped_column(Integer, default=5000)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_refusal: Mapped[str | None] = mapped_column(String(300))
    # When the scheduler last tried to start it (kefu.crosssell.campaigns.scheduler): a refused
    # start (quiet hours, a cap) is tried again after a pause, by one process at a time.
    start_tried_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The approved template's text as rendered at start (WeChat template's text, the banner's):
    # what the checker approved then is what goes out, whatever the template becomes later.
    content: Mapped[str | None] = mapped_column(Text)


class CampaignMember(Base):
    """One customer of a campaign: the arm drawn for them (treated or hold-out), what became
    of their message, their reply and whether they opened the product within the window."""

    __tablename__ = "crosssell_campaign_members"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_no", name="uq_crosssell_campaign_members_once"),
        Index("ix_crosssell_campaign_members_phone", "campaign_id", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("crosssell_campaigns.id", ondelete="CASCADE")
    )
    customer_no: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(21), default="")
    arm: Mapped[str] = mapped_column(String(8))  # treated, holdout
    draw: Mapped[float] = mapped_column(Float)  # the seeded uniform draw that chose the arm
    # queued, refused, held_out, simulated; WeChat: queued → sending → sent / failed, and
    # unreachable (no bound openid); web chat banner: eligible (shown when the widget opens)
    state: Mapped[str] = mapped_column(String(16))
    refusal: Mapped[str | None] = mapped_column(String(200))  # the rule's reason, WeChat's error
    # WeChat: "account:openid" the template goes to; web chat: the widget session it was shown in
    address: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # WeChat: claimed / sent
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # banner impression
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # banner click
    reply: Mapped[str | None] = mapped_column(String(16))  # interested, opted_out, other
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    converted_on: Mapped[date | None] = mapped_column(Date)


class OfferScore(Base):
    """One customer's precomputed propensities (kefu.crosssell.scores): for every product that
    passed the hard rules when scored, [propensity, reasons] as JSON. ``model_version`` is the
    models' training time; ``inputs`` a digest of the model's inputs except salary, so a row
    whose customer's holdings, cards, age or tier changed since is known to be out of date."""

    __tablename__ = "crosssell_scores"

    customer_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(40))
    as_of: Mapped[date] = mapped_column(Date)  # the bank data's date the facts were read on
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    inputs: Mapped[str] = mapped_column(String(40))
    scores: Mapped[str] = mapped_column(Text)


class BannerImpression(Base):
    """One showing of a web chat banner campaign's offer in one widget visit (web chat
    session): at most one per campaign and visit (the unique key: two widget loads at once
    record one), so the report counts impressions and the caps count a customer's showings."""

    __tablename__ = "crosssell_banner_impressions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "visit", name="uq_crosssell_banner_impressions_once"),
        Index("ix_crosssell_banner_impressions_customer", "customer_no", "shown_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("crosssell_campaigns.id", ondelete="CASCADE")
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("crosssell_campaign_members.id", ondelete="CASCADE")
    )
    customer_no: Mapped[str] = mapped_column(String(32))
    visit: Mapped[str] = mapped_column(String(32))  # the web chat session it was shown in
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
