"""Values the workspace renders through _() (routing states, step kinds, dispositions…), listed
so that catalogue extraction finds them."""

from __future__ import annotations


def N_(message: str) -> str:
    return message


DYNAMIC_LABELS = [
    N_("waiting"), N_("reserved"), N_("assigned"), N_("completed"), N_("overflowed"),
    N_("queued"), N_("offered"), N_("accepted"), N_("rejected"), N_("offer_expired"),
    N_("transferred"), N_("escalated"), N_("sla_breach"), N_("overflow"), N_("replied"),
    N_("note"), N_("resumed"), N_("claimed"),
    N_("Conflict"),  # HTTP 409 title on the error page
    N_("first_response"), N_("resolution"),  # SLA clocks
    N_("received"), N_("sent"), N_("delivered"), N_("failed"),
    N_("customer"), N_("bot"), N_("system"),
    N_("standard"), N_("gold"), N_("platinum"), N_("private"),
    N_("active"), N_("lost"), N_("frozen"),
    N_("phone"), N_("wechat_openid"), N_("weibo_uid"),
    N_("SLA ok"), N_("SLA warning"), N_("SLA breached"),
    N_("resolved"), N_("answered_faq"), N_("transferred_branch"), N_("complaint_logged"),
    N_("no_response"), N_("spam"),
]  # fmt: skip
