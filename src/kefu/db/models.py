"""Imports every platform model so that ``Base.metadata`` is complete (Alembic, tests)."""

from kefu.agents.models import Agent, AgentSkill, Skill, Team
from kefu.assistant.models import DialogSession
from kefu.audit.models import AuditEntry
from kefu.auth.models import ApiKey, AuthSession, LoginThrottle
from kefu.channels.sms.models import SmsCarrierId, SmsMessage
from kefu.channels.wechat.menu import WechatMenu
from kefu.channels.wechat.models import (
    WechatAccessToken,
    WechatFollower,
    WechatInbound,
    WechatOutbound,
)
from kefu.channels.wechat.regions import WechatFollowerRegion, WechatRegionTag
from kefu.conversations.models import Conversation, Message
from kefu.db.base import Base
from kefu.identity.models import ChannelIdentity, Customer
from kefu.identity.otp import OtpChallenge
from kefu.knowledge.models import KnowledgeEntry, KnowledgeGap, KnowledgeVersion
from kefu.marketing.models import OptOut
from kefu.marketing.outbound_models import Consent, SmsTemplate
from kefu.marketing.subscription_models import Subscription, SubscriptionNotice, SubscriptionRun
from kefu.partners.models import (
    Partner,
    PartnerApiKey,
    PartnerMessage,
    PartnerRefusal,
    PartnerTemplate,
)
from kefu.routing.models import (
    RoutingEvent,
    RoutingTask,
    RoutingWorker,
    WebhookDelivery,
    WebhookSubscription,
    WorkflowVersion,
)
from kefu.web.idempotency import IdempotencyKey
from kefu.workspace.models import ConversationNote, ReplyScript

__all__ = [
    "Agent",
    "AgentSkill",
    "ApiKey",
    "AuditEntry",
    "Base",
    "ChannelIdentity",
    "Conversation",
    "Customer",
    "KnowledgeEntry",
    "KnowledgeGap",
    "KnowledgeVersion",
    "DialogSession",
    "Message",
    "OptOut",
    "Subscription",
    "SubscriptionNotice",
    "SubscriptionRun",
    "OtpChallenge",
    "Skill",
    "SmsCarrierId",
    "SmsMessage",
    "Team",
    # routing and workspace
    "ConversationNote",
    "ReplyScript",
    "RoutingEvent",
    "RoutingTask",
    "RoutingWorker",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkflowVersion",
    # WeChat channel
    "WechatAccessToken",
    "WechatFollower",
    "WechatInbound",
    "WechatOutbound",
    # WeChat business hall
    "WechatFollowerRegion",
    "WechatMenu",
    "WechatRegionTag",
    # SMS governance and partners
    "Consent",
    "Partner",
    "PartnerApiKey",
    "PartnerMessage",
    "PartnerRefusal",
    "PartnerTemplate",
    "SmsTemplate",
    # security hardening
    "AuthSession",
    "IdempotencyKey",
    "LoginThrottle",
]
