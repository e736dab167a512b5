"""The layout's navigation: pages grouped by what the service centre does with them.

A supervisor holds some twenty pages; one row of links wrapped into two and then three. Each
group opens on hover or keyboard focus (no script); a group with one page a reader may open is
shown as that page's link, so a teller still sees "Counter" and not a menu of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kefu.auth.permissions import Permission
from kefu.channels.manifest import msgid


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    permission: Permission | str | None = None
    testid: str | None = None
    badge_url: str | None = None  # a live count next to the label (htmx, every 30 s)


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str
    items: tuple[NavItem, ...]
    # The channels' own links (kefu.channels manifests) join this group.
    takes_channel_links: bool = False


@dataclass
class VisibleGroup:
    key: str
    label: str
    items: list[NavItem] = field(default_factory=list)


P = Permission
GROUPS: tuple[NavGroup, ...] = (
    NavGroup("service", msgid("Service"), (
        NavItem(msgid("Inbox"), "/workspace/inbox", P.CONVERSATIONS_HANDLE),
        NavItem(msgid("Conversations"), "/workspace/conversations", P.CONVERSATIONS_READ),
        NavItem(msgid("Knowledge"), "/knowledge", P.KNOWLEDGE_READ),
        NavItem(msgid("Conversation search"), "/conversations/search", P.CONVERSATIONS_SEARCH),
        NavItem(msgid("My scores"), "/quality/mine", P.QUALITY_APPEAL),
    )),
    NavGroup("supervision", msgid("Supervision"), (
        NavItem(msgid("Queues"), "/supervisor/queues", P.QUEUES_SUPERVISE),
        NavItem(msgid("Agents"), "/supervisor/agents", P.AGENTS_READ),
        NavItem(msgid("Routing"), "/routing/workflow", P.ROUTING_MANAGE),
        NavItem(msgid("Quality inspection"), "/quality", P.QUALITY_REVIEW),
    )),
    NavGroup("social", msgid("Social media"), (
        NavItem(msgid("Crisis desk"), "/social/crisis", P.CRISIS_DESK, "nav-crisis",
                "/social/crisis/badge"),
        NavItem(msgid("Listening"), "/social/listening", P.SOCIAL_LISTEN, "nav-listening"),
        NavItem(msgid("Social posts"), "/social/posts", P.SOCIAL_LISTEN, "nav-social-posts"),
        NavItem(msgid("Social reports"), "/social/reports", P.REPORTS_READ,
                "nav-social-reports"),
    )),
    NavGroup("reports", msgid("Reports"), (
        NavItem(msgid("Service centre"), "/reports", P.REPORTS_READ),
        NavItem(msgid("Queues and agents now"), "/reports/live", P.QUEUES_SUPERVISE),
        NavItem(msgid("My performance"), "/reports/me", P.REPORTS_OWN),
        NavItem(msgid("Channels"), "/reports/channels", P.REPORTS_READ),
        NavItem(msgid("Report builder"), "/reports/builder", P.REPORTS_BUILD),
        NavItem(msgid("Behaviour analytics"), "/analytics", P.REPORTS_READ),
        NavItem(msgid("Metric anomalies"), "/analytics/anomalies", P.REPORTS_READ),
        NavItem(msgid("Behaviour clusters"), "/analytics/clusters", P.REPORTS_READ),
        NavItem(msgid("A customer's online behaviour"), "/analytics/customer-behaviour",
                P.REPORTS_READ),
        NavItem(msgid("Topics"), "/analytics/topics", P.REPORTS_READ),
        NavItem(msgid("Customer characteristics"), "/analytics/customers", P.REPORTS_READ),
        NavItem(msgid("Session replays"), "/analytics/replays", P.REPLAY_VIEW),
    )),
    NavGroup("branch", msgid("Branches"), (
        NavItem(msgid("Counter"), "/branch/counter", P.BRANCH_COUNTER),
        NavItem(msgid("Pre-filled forms"), "/branch/forms-desk", P.BRANCH_COUNTER),
        NavItem(msgid("Branch queues"), "/branch/manage", P.BRANCH_MANAGE),
        NavItem(msgid("Branch map"), "/branch/map", P.BRANCHES_READ),
    )),
    NavGroup("marketing", msgid("Marketing"), (
        NavItem(msgid("SMS templates"), "/marketing/templates", P.SMS_TEMPLATES_EDIT),
        NavItem(msgid("Campaigns"), "/crosssell/campaigns", P.REPORTS_READ),
    )),
    NavGroup("settings", msgid("Settings"), (
        NavItem(msgid("Users"), "/admin/users", P.USERS_MANAGE),
        NavItem(msgid("Partners"), "/partners", P.PARTNERS_MANAGE),
        NavItem(msgid("WeChat menus"), "/admin/wechat/menus", P.WECHAT_MENUS),
        NavItem(msgid("Data retention"), "/privacy", P.PRIVACY_MANAGE),
    ), takes_channel_links=True),
)  # fmt: skip


def visible_groups(
    principal: Any, channel_links: list[Any], groups: tuple[NavGroup, ...] = GROUPS
) -> list[VisibleGroup]:
    """The groups this reader may open, each with only the pages they may open; empty groups
    are left out. ``channel_links`` are the channels' links already filtered for the reader
    (kefu.web.templating.channel_navigation)."""
    visible = []
    for group in groups:
        shown = VisibleGroup(group.key, group.label)
        shown.items = [
            item for item in group.items if item.permission and principal.can(item.permission)
        ]
        if group.takes_channel_links:
            shown.items += [NavItem(link.label, link.url) for link in channel_links]
        if shown.items:
            visible.append(shown)
    return visible
