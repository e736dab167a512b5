"""The SMS channel: carrier links (SMPP, CMPP, SGIP, SMGP), the outbox, status reports, the
send API for the bank's systems and partners, and the demo's carrier simulators."""

from __future__ import annotations

from pydantic import Field

from kefu.channels.manifest import Capabilities, ChannelManifest, NavLink, msgid
from kefu.channels.sms.config import SmsLinks, SmsRoute
from kefu.channels.sms.policy import SMS_POLICY

MANIFEST = ChannelManifest(
    name="sms",
    title="SMS",
    capabilities=Capabilities(
        max_text=70 * 255,  # one concatenated message: up to 255 parts of 67-70 characters
        rich_cards=False,
        reply_window="none: a reply may go any time (quiet hours apply to marketing only)",
    ),
    policy=SMS_POLICY,
    settings={
        "sms_links": (
            SmsLinks,
            Field(
                default_factory=list,
                description="Carrier links (JSON list in KEFU_SMS_LINKS, [[sms_links]] in kefu.toml).",
            ),
        ),
        "sms_routes": (
            list[SmsRoute],
            Field(
                default_factory=list,
                description="Business routing by the sub-code after the service number.",
            ),
        ),
        "sms_signature": (
            str,
            Field(
                default="【kefu银行】",
                max_length=20,
                description="Prepended to every outbound SMS.",
            ),
        ),
        "sms_send_lease_seconds": (
            float,
            Field(
                default=120.0,
                ge=1,
                le=3600,
                description="How long a gateway may hold an outbound SMS it is sending; a row "
                "still held after that (its process died) is settled by the carrier's report or "
                "resent.",
            ),  # fmt: skip
        ),
        "sms_gateway_in_web": (
            bool,
            Field(
                default=True,
                description="Whether the web process (kefu serve) binds the carrier links and "
                "sends; off when `kefu run sms` runs the gateway in a process of its own (the "
                "web process then only queues into the outbox).",
            ),  # fmt: skip
        ),
        "sms_unknown_resend_seconds": (
            float,
            Field(
                default=300.0,
                ge=1,
                le=86_400,
                description="The longest an SMS that may be with the carrier (its submit got "
                "no answer, or its gateway died) waits for the carrier's report before it is "
                "sent again, marked possibly duplicated; a link whose reports come quickly waits "
                "three times its recent reports' 90th percentile lag plus 5 s.",
            ),  # fmt: skip
        ),
        "sms_kept_reports_days": (
            float,
            Field(
                default=7.0,
                ge=1,
                le=3650,
                description="How many days a status report no message took is kept in "
                "sms_kept_reports (it is matched for the first day only) before it is deleted.",
            ),  # fmt: skip
        ),
    },
    routers=(
        "kefu.channels.sms.views:router",
        "kefu.channels.sms.callbacks_api:router",
    ),
    models=("kefu.channels.sms.models",),
    navigation=(NavLink(msgid("Phone simulator"), "/demo/phone", demo_only=True),),
    start="kefu.channels.sms.runtime:start",
    runs_alone=True,
    commands=(("phone", "kefu.channels.sms.cli:phone_command"),),
    demo="kefu.channels.sms.demo:prepare",
)
