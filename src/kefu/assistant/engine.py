"""The dialog engine: intent → handler → reply, with ask-backs kept per address.

Each scripted scenario finishes within five messages back and forth (the tests count them):
a one-shot command is two; a missing month is four ("查账单" → "哪个月?" → "3月" → bill);
binding and multi-card loss reports are five.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.assistant import arbitration, render
from kefu.assistant import branches as pd
from kefu.assistant.models import DialogSession
from kefu.audit.service import record
from kefu.bank.models import Card, CustomerProfile
from kefu.bank.port import BankError, BankPort, NotFound
from kefu.branch import tickets
from kefu.branch.queue import QueueError
from kefu.branch.waits import nearest_waits
from kefu.db.base import utcnow
from kefu.identity import otp
from kefu.identity.binding import bind, customer_for, ensure_customer
from kefu.knowledge import answering as knowledge
from kefu.language.analyze import Analysis, analyze
from kefu.language.intents import question_form
from kefu.language.normalize import normalize
from kefu.logs import get_logger
from kefu.messaging.contract import Notification, Reply, Turn
from kefu.outbound.models import OptOut
from kefu.routing import intake
from kefu.subscriptions import service as subscriptions
from kefu.vocabulary import Channel

log = get_logger(__name__)

SESSION_TTL = timedelta(minutes=10)
# Reply.data of an answer that needs the customer to bind first (rich channels link binding).
NEEDS_BINDING = {"needs": "binding"}
MAX_LAST4_TRIES = 3
ACCOUNT_INTENTS = arbitration.DATA_INTENTS
_DIGITS4 = re.compile(r"^\s*(\d{4})\s*$")
_DIGITS6 = re.compile(r"^\s*(\d{6})\s*$")
# "5678 482913" (tail, code) or the reverse, as customers type either.
_TAIL_AND_CODE = re.compile(
    r"^\s*(?:(\d{3}[\dXx])[\s,，+]*(\d{6})|(\d{6})[\s,，+]*(\d{3}[\dXx]))\s*$"
)


class OfferHook(Protocol):
    """Cross-selling's one appended offer (kefu.crosssell.assistant_offer), given at the
    composition root: a line to append to the answer, or None when the policy says no."""

    async def __call__(self, db: AsyncSession, *, channel: str, contact: str,
                       identity_kind: str, intent: str, sentiment: str) -> str | None: ...  # fmt: skip


class Assistant:
    def __init__(self, bank: BankPort, offer: OfferHook | None = None) -> None:
        self.bank = bank
        self.offer = offer

    async def handle(self, db: AsyncSession, turn: Turn) -> Reply:
        dialog = await self._dialog(db, turn)
        analysis = analyze(turn.text, today=turn.today)
        try:
            if dialog.awaiting:
                reply = await self._continue(db, turn, dialog, analysis)
                if reply is not None:
                    return await self._with_offer(db, turn, reply, analysis)
            dialog.awaiting, dialog.state = None, {}
            reply = await self._command(db, turn, dialog, analysis)
            return await self._with_offer(db, turn, reply, analysis)
        except BankError:
            dialog.awaiting, dialog.state = None, {}
            return Reply([render.BANK_DOWN], analysis.intent)

    async def _with_offer(self, db: AsyncSession, turn: Turn, reply: Reply, a: Analysis) -> Reply:
        """At most one offer, appended to an understood answer the customer was not handed
        over with; the hook's own failure never costs the customer the answer."""
        if self.offer is None or not reply.understood or reply.conversation_id is not None:
            return reply
        try:
            async with db.begin_nested():
                line = await self.offer(db, channel=turn.channel, contact=turn.contact,
                                        identity_kind=turn.identity_kind, intent=reply.intent,
                                        sentiment=a.sentiment.label)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - an offer is optional; the answer is not
            log.warning("assistant_offer_failed", error=repr(exc)[:200])
            return reply
        if line and reply.texts:  # in the answer's own message: one SMS, not one more
            reply.texts[-1] = f"{reply.texts[-1]}\n{line}"
        return reply

    async def identify(self, db: AsyncSession, *, kind: str, value: str, customer_no: str) -> bool:
        """Binds ``value`` to the bank's customer ``customer_no`` (a channel proved it, e.g. a
        signed sign-in token); a no-op when already bound to them."""
        bound = await customer_for(db, kind=kind, value=value)
        if bound is not None and bound.bank_customer_no == customer_no:
            return True
        try:
            profile = await self.bank.get_customer(customer_no)
        except NotFound:
            return False
        await bind(db, kind=kind, value=value, profile=profile, actor=f"{kind}:{value}")
        return True

    # --- state -------------------------------------------------------------------------

    async def _dialog(self, db: AsyncSession, turn: Turn) -> DialogSession:
        dialog = await db.scalar(
            select(DialogSession).where(
                DialogSession.channel == turn.channel, DialogSession.contact == turn.contact
            )
        )
        now = utcnow()
        if dialog is None:
            dialog = DialogSession(channel=turn.channel, contact=turn.contact, state={}, turns=0)
            db.add(dialog)
        elif dialog.updated_at < now - SESSION_TTL:
            dialog.awaiting, dialog.state = None, {}
        dialog.turns += 1
        dialog.updated_at = now
        return dialog

    @staticmethod
    def _await(dialog: DialogSession, what: str, **state: object) -> None:
        dialog.awaiting = what
        dialog.state = dict(state)

    async def _profile(self, db: AsyncSession, turn: Turn) -> CustomerProfile | None:
        customer = await customer_for(db, kind=turn.identity_kind, value=turn.contact)
        if customer is None:
            return None
        return await self.bank.get_customer(customer.bank_customer_no)

    # --- fresh commands ----------------------------------------------------------------

    async def _command(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession, a: Analysis
    ) -> Reply:
        intent = a.intent
        if intent == "bind":
            return await self._start_binding(db, turn, dialog)
        request = subscriptions.parse_request(turn.text)
        if request is not None:
            return await self._subscription(db, turn, request)
        if intent in arbitration.ARBITRATED:
            # "信用卡怎么提额" is about the limit but asks how: the FAQ, not the customer's limit.
            answered = await self._arbitrate(db, turn, dialog, a)
            if answered is not None:
                return answered
        if intent == "help":
            return Reply([render.HELP], intent)
        if intent == "greeting":
            return Reply([render.GREETING], intent)
        if intent == "unsubscribe":  # T, R and other ways of saying TD
            return await self._opt_out(db, turn, intent)
        if intent == "subscribe":
            return await self._subscription(db, turn, subscriptions.TextRequest(True, None))
        if intent in ("agent.transfer", "complaint"):
            return await self._hand_over(db, turn, a)
        if intent == "branch.queue":
            return await self._branches(db, turn, dialog, a)
        if intent not in ACCOUNT_INTENTS:
            return await self._ask_knowledge(db, turn, dialog, intent)
        profile = await self._profile(db, turn)
        if profile is None:
            return Reply([render.NOT_BOUND], intent, data=dict(NEEDS_BINDING))
        if intent == "bill.query":
            month = a.slots.get("month")
            if not month:
                self._await(dialog, "month", tail=a.slots.get("card_tail"))
                return Reply([render.ASK_MONTH], intent)
            return await self._bill(profile, month, a.slots.get("card_tail"))
        if intent == "card.report_loss":
            return await self._start_loss(db, turn, dialog, profile, a.slots.get("card_tail"))
        return await self._account_query(profile, intent)

    async def _credit_cards(self, profile: CustomerProfile, card_tail: str | None) -> list[Card]:
        cards = [c for c in await self.bank.list_cards(profile.customer_no)
                 if c.kind == "credit" and c.status == "active"]  # fmt: skip
        if card_tail:
            cards = [c for c in cards if c.card_no.endswith(card_tail)] or cards
        return cards

    async def _bill(self, profile: CustomerProfile, month: str, card_tail: str | None) -> Reply:
        # The month lets rich channels link the month's bill page (which explains a missing
        # card or bill too); SMS sends the text alone.
        data = {"month": month}
        cards = await self._credit_cards(profile, card_tail)
        if not cards:
            return Reply([render.NO_CREDIT_CARD], "bill.query", data=data)
        parts = []
        for card in cards[:2]:
            try:
                parts.append(render.bill(card, await self.bank.get_bill(card.card_no, month)))
            except NotFound:
                parts.append(render.no_bill(card, month))
        return Reply(["".join(parts)], "bill.query", data=data)

    async def _account_query(self, profile: CustomerProfile, intent: str) -> Reply:
        no = profile.customer_no
        if intent in ("balance.query", "transactions.query"):
            accounts = await self.bank.list_accounts(no)
            if not accounts:
                return Reply([render.NO_ACCOUNT], intent)
            if intent == "balance.query":
                return Reply([render.balances(accounts)], intent)
            txs = await self.bank.list_transactions(accounts[0].account_no, limit=3)
            return Reply([render.transactions(accounts[0], txs)], intent)
        cards = await self._credit_cards(profile, None)
        if not cards:
            return Reply([render.NO_CREDIT_CARD], intent)
        if intent == "repayment.query":
            dues = [
                render.repayment(c, await self.bank.get_repayment_due(c.card_no)) for c in cards[:2]
            ]
            return Reply(["".join(dues)], intent)
        if intent == "points.query":
            return Reply([render.points(cards)], intent)
        return Reply([render.credit_limits(cards)], intent)

    async def _branches(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession, a: Analysis,
        remembered_city: str | None = None,
    ) -> Reply:  # fmt: skip
        """PD (the nearest branches' waits) and PD n (a ticket at the n-th): kefu.assistant.branches."""
        intent = "branch.queue"
        city_text = a.slots.get("city")
        request = pd.parse(normalize(turn.text), city_text)
        if request.bad:
            if remembered_city:
                self._await(dialog, "branch_pick", city=remembered_city)
            return Reply([render.BRANCH_PICK_NOT_NUMBER], intent)
        city = city_text or remembered_city
        if not city:
            profile = await self._profile(db, turn)
            city = profile.city if profile else None
        if not city:
            text = (
                render.BRANCH_PICK_NO_CITY
                if request.pick
                else "请回复所在城市查询网点排队，如：深圳网点排队。"
            )
            return Reply([text], intent)
        branches = await self.bank.list_branches()
        waits = await nearest_waits(db, branches, city, service_code=request.service)
        if waits:  # "PD 1" next refers to this list, even from a customer not bound
            self._await(dialog, "branch_pick", city=city)
        label = pd.service_label(request.service)
        if request.pick is None:
            return Reply([render.branches(city, waits, label if request.service != "cash" else "")],
                         intent)  # fmt: skip
        if not waits:
            return Reply([render.branches(city, waits)], intent)
        if not 1 <= request.pick <= len(waits):
            return Reply([render.branch_pick_out_of_range(request.pick, len(waits))], intent)
        if turn.identity_kind != "phone":
            return Reply([render.BRANCH_PICK_PHONE_ONLY], intent)
        chosen = waits[request.pick - 1].branch
        try:
            got = await tickets.take_remote(
                db, branch_code=chosen.code, service_code=request.service, source="sms",
                customer_key=f"phone:{turn.contact}", notify_ahead=3,
            )  # fmt: skip
        except QueueError as exc:
            return Reply([render.branch_ticket_refused(exc.message)], intent)
        t = got.ticket
        where = next((b.name for b in branches if b.code == t.branch_code), t.branch_code)
        if not got.existing:
            await record(db, actor=f"{turn.channel}:{turn.contact}", action="branch.ticket.remote",
                         target=f"{t.branch_code}/{t.label}", details={"source": "sms"})  # fmt: skip
        return Reply([render.branch_ticket(where, pd.service_label(t.service), t.label, t.state,
                                           got.ahead, got.wait_seconds, existing=got.existing)],
                     intent)  # fmt: skip

    async def _opt_out(
        self, db: AsyncSession, turn: Turn, intent: str, *, marketing_only: bool = False
    ) -> Reply:
        existing = await db.scalar(
            select(OptOut).where(OptOut.kind == turn.identity_kind, OptOut.value == turn.contact)
        )
        if existing is None:
            db.add(OptOut(kind=turn.identity_kind, value=turn.contact, source=turn.channel))
            await record(db, actor=f"{turn.channel}:{turn.contact}", action="marketing.opt_out")
        if marketing_only:  # "TD YX": the bank's offers only
            return Reply([render.opted_out_marketing(turn.channel)], intent)
        # A plain TD stops every non-transactional message to this address: marketing and
        # the subscriptions on this channel (carriers' rule); codes and answers continue.
        ended: list[subscriptions.Service] = []
        customer = await customer_for(db, kind=turn.identity_kind, value=turn.contact)
        if customer is not None:
            ended = await subscriptions.unsubscribe_all(
                db, customer_id=customer.id, channel=turn.channel,
                actor=f"{turn.channel}:{turn.contact}",
            )  # fmt: skip
        return Reply([render.opted_out(ended, turn.channel)], intent)

    async def _opt_in(self, db: AsyncSession, turn: Turn, intent: str) -> Reply:
        existing = await db.scalar(
            select(OptOut).where(OptOut.kind == turn.identity_kind, OptOut.value == turn.contact)
        )
        if existing is not None:
            await db.delete(existing)
            await record(db, actor=f"{turn.channel}:{turn.contact}", action="marketing.opt_in")
        return Reply([render.opted_in(turn.channel)], intent)

    async def _subscription(
        self, db: AsyncSession, turn: Turn, request: subscriptions.TextRequest
    ) -> Reply:
        """DY (the menu), "DY HK 5", "TD ZD", "DY YX"/"TD YX" (offers), plain TD (everything)."""
        intent = "subscribe" if request.subscribe else "unsubscribe"
        target = request.target
        if not request.subscribe and target in (None, "?"):
            return await self._opt_out(db, turn, intent)  # TD honoured at once, whatever follows
        if target == subscriptions.MARKETING:
            if request.subscribe:
                return await self._opt_in(db, turn, intent)
            return await self._opt_out(db, turn, intent, marketing_only=True)
        customer = await customer_for(db, kind=turn.identity_kind, value=turn.contact)
        if target == "?":
            return Reply([render.UNKNOWN_SERVICE], intent)
        if target is None:
            current = None
            if customer is not None:
                current = await subscriptions.list_subscriptions(db, customer.id, turn.channel)
            return Reply([render.subscription_menu(current)], intent)
        if customer is None:
            return Reply([render.NOT_BOUND], intent, data=dict(NEEDS_BINDING))
        service = subscriptions.Service(target)
        actor = f"{turn.channel}:{turn.contact}"
        if not request.subscribe:
            existed = await subscriptions.unsubscribe(
                db, customer_id=customer.id, service=service, channel=turn.channel, actor=actor
            )
            return Reply([render.unsubscribed(service, existed)], intent)
        days = threshold = None
        if request.number is not None and service is subscriptions.Service.REPAYMENT_REMINDER:
            days = int(request.number) if request.number == int(request.number) else 0
        elif request.number is not None and service is subscriptions.Service.BALANCE_ALERT:
            threshold = request.number
        try:
            view = await subscriptions.subscribe(
                db, customer_id=customer.id, service=service, channel=turn.channel,
                actor=actor, days_before=days, threshold=threshold,
            )  # fmt: skip
        except subscriptions.SubscriptionError as exc:
            return Reply([render.subscription_refused(exc)], intent)
        return Reply([render.subscribed(view)], intent)

    async def _hand_over(self, db: AsyncSession, turn: Turn, a: Analysis) -> Reply:
        """Opens a conversation and queues it for routing, with what was understood of it."""
        conversation, _task = await intake.open_conversation(
            db,
            channel=turn.channel,
            contact=turn.contact,
            text=turn.text,
            now=utcnow(),
            subject=turn.text,
            intent=a.intent,
            attributes={"sentiment": a.sentiment.score, "keywords": list(a.keywords)},
            actor=f"{turn.channel}:{turn.contact}",
        )
        text = (
            render.complaint_taken(conversation.id)
            if a.intent == "complaint"
            else render.TRANSFERRED
        )
        return Reply([text], a.intent, conversation_id=conversation.id)

    # --- questions for the knowledge base ----------------------------------------------

    async def _arbitrate(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession, a: Analysis
    ) -> Reply | None:
        """The knowledge base's reply when it, not the data command, should answer
        (kefu.assistant.arbitration); None to run the command."""
        form = question_form(turn.text, a.slots)
        if not arbitration.consults_knowledge(form, a.intent):
            return None
        try:
            # No gap is recorded here: if nothing matches, the command still answers.
            found = await knowledge.answer(
                db, question=turn.text, channel=turn.channel, record_gap=False
            )
        except knowledge.QuestionError:
            return None
        if arbitration.route(form, a.intent, a.confidence, found) != "knowledge":
            return None
        return self._knowledge_reply(dialog, found, a.intent)

    async def _ask_knowledge(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession, intent: str
    ) -> Reply:
        """Not a command: the one knowledge base answers, offers choices, or the menu follows
        (the knowledge base records the unanswered question as a gap for its editors)."""
        try:
            found = await knowledge.answer(db, question=turn.text, channel=turn.channel)
        except knowledge.QuestionError:
            return Reply([render.NOT_UNDERSTOOD], intent, understood=False)
        return self._knowledge_reply(dialog, found, intent)

    def _knowledge_reply(
        self,
        dialog: DialogSession,
        found: knowledge.Answer | knowledge.Suggestions | knowledge.HandOver,
        intent: str,
    ) -> Reply:
        if isinstance(found, knowledge.Answer):
            return Reply([found.text], "faq")
        if isinstance(found, knowledge.Suggestions):
            choices = [[c.number, c.entry_id, c.question, c.score] for c in found.choices]
            self._await(dialog, "faq_pick", choices=choices)
            return Reply([found.prompt], "faq")
        return Reply([render.NOT_UNDERSTOOD], intent, understood=False)

    async def _pick_knowledge(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession
    ) -> Reply | None:
        offered = knowledge.Suggestions(
            "",
            tuple(
                knowledge.Choice(n, entry, q, score)
                for n, entry, q, score in dialog.state["choices"]
            ),
        )
        choice = offered.pick(turn.text)
        if choice is None:
            return None
        dialog.awaiting, dialog.state = None, {}
        found = await knowledge.answer_choice(db, entry_id=choice.entry_id, channel=turn.channel)
        if isinstance(found, knowledge.Answer):
            return Reply([found.text], "faq")
        return Reply([render.NOT_UNDERSTOOD], "faq", understood=False)

    # --- binding -----------------------------------------------------------------------

    async def _start_binding(self, db: AsyncSession, turn: Turn, dialog: DialogSession) -> Reply:
        if turn.identity_kind != "phone":
            return Reply(["请在手机短信中发送BD完成绑定。"], "bind")
        profile = await self.bank.find_customer_by_mobile(turn.contact)
        if profile is None:
            return Reply([render.NOT_REGISTERED], "bind")
        # The code goes out with the first answer and comes back with the last four digits,
        # so binding takes four messages: BD, code, "1234 123456", done.
        try:
            code = await otp.issue(db, purpose="bind", address=profile.mobile,
                                   payload={"customer_no": profile.customer_no})  # fmt: skip
        except otp.OtpRateLimited:
            return Reply([render.RATE_LIMITED], "bind")
        self._await(dialog, "bind_confirm", customer_no=profile.customer_no, tries=0)
        if turn.channel == Channel.SMS.value and profile.mobile == turn.contact:
            return Reply([render.bind_code(code)], "bind")
        note = Notification(Channel.SMS.value, profile.mobile, render.bind_code(code))
        return Reply([render.bind_code_sent()], "bind", notifications=[note])

    async def _last4_matches(self, profile: CustomerProfile, last4: str) -> bool:
        if profile.id_number[-4:].upper() == last4:
            return True
        return any(
            c.card_no.endswith(last4) for c in await self.bank.list_cards(profile.customer_no)
        )

    # --- continuing a dialog -----------------------------------------------------------

    async def _continue(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession, a: Analysis
    ) -> Reply | None:
        """The reply to an awaited answer, or None when the message is a new command."""
        text = turn.text
        awaiting, state = dialog.awaiting, dict(dialog.state)
        if awaiting == "faq_pick":
            return await self._pick_knowledge(db, turn, dialog)
        if awaiting == "branch_pick":  # "PD 1" after a PD list: that list's city
            if a.intent != "branch.queue":
                return None
            dialog.awaiting, dialog.state = None, {}
            return await self._branches(db, turn, dialog, a, remembered_city=state.get("city"))
        if awaiting == "month":
            month = a.slots.get("month")
            if month:
                dialog.awaiting, dialog.state = None, {}
                profile = await self._profile(db, turn)
                if profile is None:
                    return Reply([render.NOT_BOUND], "bill.query", data=dict(NEEDS_BINDING))
                return await self._bill(
                    profile, month, state.get("tail") or a.slots.get("card_tail")
                )
            return None
        if awaiting == "bind_confirm" and (m := _TAIL_AND_CODE.match(text)):
            last4, code = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            profile = await self.bank.get_customer(state["customer_no"])
            if not await self._last4_matches(profile, last4.upper()):
                state["tries"] = state.get("tries", 0) + 1
                if state["tries"] >= MAX_LAST4_TRIES:
                    dialog.awaiting, dialog.state = None, {}
                    return Reply([render.LAST4_GIVE_UP], "bind")
                dialog.state = state
                return Reply([render.LAST4_WRONG], "bind")
            check = await otp.verify(db, purpose="bind", address=profile.mobile, code=code)
            if (refused := self._code_refused(dialog, check, "bind")) is not None:
                return refused
            await bind(db, kind=turn.identity_kind, value=turn.contact, profile=profile,
                       actor=f"{turn.channel}:{turn.contact}")  # fmt: skip
            return Reply([render.BOUND], "bind")
        if awaiting == "bind_confirm" and (_DIGITS4.match(text) or _DIGITS6.match(text)):
            return Reply([render.BIND_NEED_BOTH], "bind")
        if awaiting == "loss_code" and (m := _DIGITS6.match(text)):
            check = await otp.verify(db, purpose="card_loss", address=turn.contact, code=m.group(1))
            if (refused := self._code_refused(dialog, check, "card.report_loss")) is not None:
                return refused
            return await self._report_loss(db, turn, check.payload or {})
        if awaiting == "loss_pick" and (m := _TAIL_AND_CODE.match(text)):
            tail_, code = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            cards = [c for c in state.get("cards", []) if c.endswith(tail_)]
            if not cards:
                return Reply([render.LOSS_TAIL_UNKNOWN], "card.report_loss")
            check = await otp.verify(db, purpose="card_loss", address=turn.contact, code=code)
            if (refused := self._code_refused(dialog, check, "card.report_loss")) is not None:
                return refused
            return await self._report_loss(db, turn, {"card_no": cards[0]})
        if awaiting == "loss_pick" and _DIGITS4.match(text):
            return Reply([render.LOSS_NEED_CODE], "card.report_loss")
        return None

    @staticmethod
    def _code_refused(dialog: DialogSession, check: otp.OtpCheck, intent: str) -> Reply | None:
        """None when the code was right (the dialog is then over); else the reply: a wrong
        code may be tried again, an expired or dead one ends the dialog."""
        if check.ok:
            dialog.awaiting, dialog.state = None, {}
            return None
        if check.reason == "wrong":
            return Reply([render.CODE_WRONG], intent)
        dialog.awaiting, dialog.state = None, {}
        return Reply([render.CODE_DEAD], intent)

    # --- card loss ---------------------------------------------------------------------

    async def _active_cards(self, profile: CustomerProfile) -> list[Card]:
        return [c for c in await self.bank.list_cards(profile.customer_no) if c.status == "active"]

    async def _start_loss(
        self,
        db: AsyncSession,
        turn: Turn,
        dialog: DialogSession,
        profile: CustomerProfile,
        card_tail: str | None,
    ) -> Reply:
        cards = await self._active_cards(profile)
        if card_tail:
            cards = [c for c in cards if c.card_no.endswith(card_tail)] or cards
        if not cards:
            return Reply(["您名下没有可挂失的卡。"], "card.report_loss")
        if len(cards) == 1:
            return await self._ask_loss_code(db, turn, dialog, cards[0])
        # Several cards: one message lists them with a code, and the answer "尾号 验证码"
        # both picks the card and confirms, so the report takes four messages, not six.
        try:
            code = await otp.issue(db, purpose="card_loss", address=turn.contact,
                                   payload={"cards": [c.card_no for c in cards]})  # fmt: skip
        except otp.OtpRateLimited:
            return Reply([render.RATE_LIMITED], "card.report_loss")
        self._await(dialog, "loss_pick", cards=[c.card_no for c in cards])
        return Reply([render.pick_card(cards, code)], "card.report_loss")

    async def _ask_loss_code(
        self, db: AsyncSession, turn: Turn, dialog: DialogSession, card: Card
    ) -> Reply:
        try:
            code = await otp.issue(db, purpose="card_loss", address=turn.contact,
                                   payload={"card_no": card.card_no})  # fmt: skip
        except otp.OtpRateLimited:
            dialog.awaiting, dialog.state = None, {}
            return Reply([render.RATE_LIMITED], "card.report_loss")
        self._await(dialog, "loss_code")
        return Reply([render.confirm_loss(card, code)], "card.report_loss")

    async def _report_loss(self, db: AsyncSession, turn: Turn, payload: dict) -> Reply:
        card_no = payload["card_no"]
        profile = await self._profile(db, turn)
        if profile is None:
            return Reply([render.NOT_BOUND], "card.report_loss", data=dict(NEEDS_BINDING))
        card = await self.bank.get_card(card_no)
        if card.customer_no != profile.customer_no:  # bound elsewhere since the code was sent
            return Reply([render.CODE_DEAD], "card.report_loss")
        # The bank is another system: our transaction (the spent code, the dialog) is
        # committed before calling it, so no lock is held across the call (on SQLite the
        # synthetic bank shares the file and would wait on it).
        await db.commit()
        report = await self.bank.report_card_lost(card_no, reason=f"{turn.channel} self-service")
        customer = await ensure_customer(db, profile)
        await record(db, actor=f"{turn.channel}:{turn.contact}", action="card.report_loss",
                     target=f"customer:{customer.id}",
                     details={"card_tail": card_no[-4:], "reference": report.reference})  # fmt: skip
        return Reply([render.loss_done(card, report.reference)], "card.report_loss")
