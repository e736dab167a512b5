"""Imports every platform model so that ``Base.metadata`` is complete (Alembic, tests); each
registered channel's models come from its manifest."""

import importlib

from kefu.agents.models import Agent, AgentSkill, Skill, Team
from kefu.analytics.clusters.models import ClusterMember, ClusterRun
from kefu.analytics.models import FailureAlert, ReplayChunk, Topic
from kefu.analytics.segments import Segment, SegmentMember
from kefu.assistant.models import DialogSession
from kefu.audit.models import AuditEntry
from kefu.auth.models import ApiKey, AuthSession, LoginThrottle, StaffTotp
from kefu.branch.models import BranchCounter, BranchQueueSetting, BranchTicket
from kefu.channels.registry import manifests
from kefu.conversations.models import Conversation, Message
from kefu.crosssell.models import OfferOutcome, RiskAssessment
from kefu.db.base import Base
from kefu.hall.menu import WechatMenu
from kefu.hall.regions import WechatFollowerRegion, WechatRegionTag
from kefu.identity.models import ChannelIdentity, Customer
from kefu.identity.otp import OtpChallenge
from kefu.knowledge.models import KnowledgeEntry, KnowledgeGap, KnowledgeVersion
from kefu.messaging.models import ContactState
from kefu.outbound.models import Consent, OptOut, SmsTemplate
from kefu.partners.models import (
    Partner,
    PartnerApiKey,
    PartnerMessage,
    PartnerRefusal,
    PartnerTemplate,
)
from kefu.quality.models import (
    CsatResponse,
    CsatSurvey,
    QaAppeal,
    QaScore,
    SearchCursor,
    SearchToken,
    SearchWordCount,
)
from kefu.reports.models import (
    AgentMinute,
    KpiDaily,
    KpiHourly,
    ReportRun,
    ReportSchedule,
    RollupState,
    SavedReport,
    SelfServiceTurn,
)
from kefu.retention.models import LegalHold, PrivacyRequest
from kefu.routing.models import RoutingEvent, RoutingTask, RoutingWorker, WorkflowVersion
from kefu.social.crisis.models import (
    CrisisAlert,
    CrisisCursor,
    CrisisEscalation,
    CrisisNotice,
    CrisisReply,
    CrisisStatement,
)
from kefu.social.models import ListeningRule, SocialPost
from kefu.subscriptions.models import Subscription, SubscriptionNotice, SubscriptionRun
from kefu.web.idempotency import IdempotencyKey
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription
from kefu.workspace.models import ConversationNote, ReplyScript

__all__ = [
    "Agent",
    "AgentSkill",
    "ApiKey",
    "AuditEntry",
    "Base",
    "ChannelIdentity",
    "ClusterMember",
    "ClusterRun",
    "ContactState",
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
    # SMS governance and partners
    "Consent",
    "Partner",
    "PartnerApiKey",
    "PartnerMessage",
    "PartnerRefusal",
    "PartnerTemplate",
    "SmsTemplate",
    # the business hall
    "WechatFollowerRegion",
    "WechatMenu",
    "WechatRegionTag",
    # security hardening
    "AuthSession",
    "IdempotencyKey",
    "LoginThrottle",
    "StaffTotp",
    # CSAT, quality inspection, search and retention
    "CsatResponse",
    "CsatSurvey",
    "LegalHold",
    "PrivacyRequest",
    "QaAppeal",
    "QaScore",
    "SearchCursor",
    "SearchToken",
    "SearchWordCount",
    # social media
    "ListeningRule",
    "SocialPost",
    # the crisis desk
    "CrisisAlert",
    "CrisisCursor",
    "CrisisEscalation",
    "CrisisNotice",
    "CrisisReply",
    "CrisisStatement",
    # smart branch queues
    "BranchCounter",
    "BranchQueueSetting",
    "BranchTicket",
    # service-centre reports
    "AgentMinute",
    "KpiDaily",
    "KpiHourly",
    "ReportRun",
    "ReportSchedule",
    "RollupState",
    "SavedReport",
    "SelfServiceTurn",
    # cross-selling
    "OfferOutcome",
    "RiskAssessment",
    # behaviour analytics: session replays, topics
    "FailureAlert",
    "ReplayChunk",
    "Topic",
    "Segment",
    "SegmentMember",
]

for _manifest in manifests():
    for _module in _manifest.models:
        importlib.import_module(_module)
