"""Roles and what each may do. Every route declares the permission it needs."""

from __future__ import annotations

from enum import StrEnum

from kefu.vocabulary import Role


class Permission(StrEnum):
    HOME = "home"  # the home page and its live counts
    CONVERSATIONS_READ = "conversations.read"
    CUSTOMERS_READ = "customers.read"
    AGENTS_READ = "agents.read"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"
    BRANCH_COUNTER = "branch.counter"
    BRANCHES_READ = "branches.read"
    KNOWLEDGE_READ = "knowledge.read"  # search the knowledge base, suggestions
    KNOWLEDGE_EDIT = "knowledge.edit"  # write drafts, import, export, gaps
    KNOWLEDGE_PUBLISH = "knowledge.publish"  # approve, reject, retire
    CONVERSATIONS_HANDLE = "conversations.handle"  # accept, reply, note, tag, transfer, close
    CONVERSATIONS_INTAKE = "conversations.intake"  # hand a conversation to routing (channels)
    QUEUES_SUPERVISE = "queues.supervise"  # supervisor view, reassign, SLA breaches
    ROUTING_MANAGE = "routing.manage"  # workflows, scripts (话术), webhooks
    SMS_SEND = "sms.send"  # the SMS API for the bank's systems (usually an API key)
    SMS_TEMPLATES_EDIT = "sms.templates.edit"  # write and submit SMS templates
    SMS_TEMPLATES_APPROVE = "sms.templates.approve"  # approve or reject (never one's own)
    CONSENT_MANAGE = "marketing.consent"  # record and withdraw customers' consent
    PARTNERS_MANAGE = "partners.manage"  # partner (CP) accounts, keys, quotas, usage
    WECHAT_MENUS = "wechat.menus"  # official accounts' custom menus: edit, sync to WeChat
    SUBSCRIPTIONS_MANAGE = "subscriptions.manage"  # read and set customers' subscriptions (定制)
    SOCIAL_CHANNELS = "social.channels"  # Weibo accounts (authorise), social webhook sources
    SOCIAL_LISTEN = "social.listen"  # read listened posts, engage or ignore them
    SOCIAL_RULES = "social.rules"  # keyword subscriptions of listening (舆情监测)
    CRISIS_DESK = "crisis.desk"  # the crisis desk: topics, alerts (acknowledge), batch replies
    CRISIS_MANAGE = "crisis.manage"  # playbooks, approve public statements, escalation outcomes
    REPORTS_OWN = "reports.own"  # an agent's own KPIs and QA scores
    REPORTS_BUILD = "reports.build"  # save, share and schedule reports (report builder)
    CONVERSATIONS_SEARCH = "conversations.search"  # full-text search, transcript export
    QUALITY_REVIEW = "quality.review"  # 质检: review sampled conversations, decide appeals
    QUALITY_APPEAL = "quality.appeal"  # an agent appeals a QA score on their own conversation
    PRIVACY_MANAGE = "privacy.manage"  # retention policies, purges, export/erasure requests
    BRANCH_MANAGE = "branch.manage"  # branch queues: services, counters, thresholds, the day
    CROSSSELL_OFFERS = "crosssell.offers"  # next best offer panel, record outcomes
    CAMPAIGNS_MANAGE = "campaigns.manage"  # marketing campaigns: segments, schedule, reports
    SEGMENTS_EXPORT = "analytics.segments.export"  # customer numbers of a behaviour cluster
    REPLAY_VIEW = "analytics.replay"  # watch a customer's recorded web session (inputs masked)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(
        {Permission.HOME, Permission.CONVERSATIONS_READ, Permission.CUSTOMERS_READ,
         Permission.BRANCHES_READ}
    ),
    Role.SUPERVISOR: frozenset(
        {Permission.HOME, Permission.CONVERSATIONS_READ, Permission.CUSTOMERS_READ,
         Permission.AGENTS_READ, Permission.REPORTS_READ, Permission.BRANCHES_READ}
    ),
    Role.ADMIN: frozenset(
        {Permission.HOME, Permission.USERS_MANAGE, Permission.AUDIT_READ,
         Permission.AGENTS_READ, Permission.BRANCHES_READ}
    ),
    Role.ANALYST: frozenset({Permission.HOME, Permission.REPORTS_READ, Permission.BRANCHES_READ}),
    Role.TELLER: frozenset(
        {Permission.HOME, Permission.BRANCH_COUNTER, Permission.CUSTOMERS_READ,
         Permission.BRANCHES_READ}
    ),
}  # fmt: skip

# The knowledge base: agents read it; supervisors write and approve (never their own version);
# admins may write drafts for a supervisor to approve.
_KNOWLEDGE_GRANTS = {
    Role.AGENT: {Permission.KNOWLEDGE_READ},
    Role.SUPERVISOR: {Permission.KNOWLEDGE_READ, Permission.KNOWLEDGE_EDIT,
                      Permission.KNOWLEDGE_PUBLISH},
    Role.ADMIN: {Permission.KNOWLEDGE_READ, Permission.KNOWLEDGE_EDIT},
}  # fmt: skip
for _role, _granted in _KNOWLEDGE_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted


# Routing and the workspace: agents handle conversations; supervisors also watch queues and
# manage workflows and scripts; admins manage workflows and webhooks and may hand
# conversations in (an API key for a channel integration), but do not read them.
_ROUTING_GRANTS = {
    Role.AGENT: {Permission.CONVERSATIONS_HANDLE},
    Role.SUPERVISOR: {Permission.CONVERSATIONS_HANDLE, Permission.QUEUES_SUPERVISE,
                      Permission.ROUTING_MANAGE, Permission.CONVERSATIONS_INTAKE},
    Role.ADMIN: {Permission.ROUTING_MANAGE, Permission.CONVERSATIONS_INTAKE},
}  # fmt: skip
for _role, _granted in _ROUTING_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted


# The SMS API: bank systems call it with an admin- or supervisor-role API key.
for _role in (Role.SUPERVISOR, Role.ADMIN):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.SMS_SEND}

# Governed outbound SMS: admins and supervisors write templates, supervisors approve them
# (never their own: maker-checker in kefu.outbound.templates); both record consent; admins
# run partner accounts. A partner's key sends SMS and writes its own templates, nothing else
# (not even the home page: it is a system, not a member of staff).
_SMS_GOVERNANCE_GRANTS = {
    Role.SUPERVISOR: {Permission.SMS_TEMPLATES_EDIT, Permission.SMS_TEMPLATES_APPROVE,
                      Permission.CONSENT_MANAGE},
    Role.ADMIN: {Permission.SMS_TEMPLATES_EDIT, Permission.CONSENT_MANAGE,
                 Permission.PARTNERS_MANAGE},
}  # fmt: skip
for _role, _granted in _SMS_GOVERNANCE_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted
ROLE_PERMISSIONS[Role.PARTNER] = frozenset({Permission.SMS_SEND, Permission.SMS_TEMPLATES_EDIT})


# WeChat official accounts' custom menus change what every follower sees: admins only.
ROLE_PERMISSIONS[Role.ADMIN] = ROLE_PERMISSIONS[Role.ADMIN] | {Permission.WECHAT_MENUS}

# Customers' subscriptions (定制) are set by the bank's systems with a supervisor- or admin-role
# API key (a branch or the app recorded the customer's request); the customer's own DY/TD texts
# need no permission.
for _role in (Role.SUPERVISOR, Role.ADMIN):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.SUBSCRIPTIONS_MANAGE}


# Social media (issue #14): agents read listened posts and engage them; supervisors also keep
# the keyword subscriptions and run the crisis desk (its playbooks and approvals too); analysts
# read listening and the crisis desk; admins connect the accounts and webhook sources.
_SOCIAL_GRANTS = {
    Role.AGENT: {Permission.SOCIAL_LISTEN},
    Role.SUPERVISOR: {Permission.SOCIAL_LISTEN, Permission.SOCIAL_RULES, Permission.CRISIS_DESK,
                      Permission.CRISIS_MANAGE},
    Role.ANALYST: {Permission.SOCIAL_LISTEN, Permission.CRISIS_DESK},
    Role.ADMIN: {Permission.SOCIAL_CHANNELS},
}  # fmt: skip
for _role, _granted in _SOCIAL_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted


# Service-centre management (issue #19): agents see their own KPIs and appeal QA scores;
# supervisors build and schedule reports, search conversations and review quality; analysts
# build reports and search (masked by role); admins keep retention and handle PIPL requests.
_SERVICE_CENTRE_GRANTS = {
    Role.AGENT: {Permission.REPORTS_OWN, Permission.QUALITY_APPEAL},
    Role.SUPERVISOR: {Permission.REPORTS_OWN, Permission.REPORTS_BUILD,
                      Permission.CONVERSATIONS_SEARCH, Permission.QUALITY_REVIEW},
    Role.ANALYST: {Permission.REPORTS_BUILD, Permission.CONVERSATIONS_SEARCH},
    Role.ADMIN: {Permission.PRIVACY_MANAGE},
}  # fmt: skip
for _role, _granted in _SERVICE_CENTRE_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted

# Smart branch (issue #17): the branch manager's view is a supervisor's; admins set branches'
# services and counters up. Tellers keep BRANCH_COUNTER (call next, retrieve forms).
for _role in (Role.SUPERVISOR, Role.ADMIN):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.BRANCH_MANAGE}

# Cross-selling (issue #18): agents and tellers see the next best offer and record outcomes;
# supervisors run campaigns; analysts read campaign reports (REPORTS_READ).
for _role in (Role.AGENT, Role.SUPERVISOR, Role.TELLER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.CROSSSELL_OFFERS}
ROLE_PERMISSIONS[Role.SUPERVISOR] = ROLE_PERMISSIONS[Role.SUPERVISOR] | {
    Permission.CAMPAIGNS_MANAGE
}

# Behaviour analytics (issues #15, #16): analysts and supervisors export a cluster's customer
# numbers (audited) and watch replays; agents watch their customer's replays from the panel.
for _role in (Role.ANALYST, Role.SUPERVISOR):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.SEGMENTS_EXPORT}
for _role in (Role.ANALYST, Role.SUPERVISOR, Role.AGENT):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Permission.REPLAY_VIEW}


def allowed(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
