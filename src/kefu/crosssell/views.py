"""The next best offer panel in the agent's customer panel (loaded after the page, so a slow
or failing recommendation never holds the workspace up) and recording an offer's outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.bank.port import BankError, BankPort, NotFound
from kefu.crosssell import service
from kefu.crosssell.models import OUTCOMES
from kefu.identity.models import Customer
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, get_bank, require
from kefu.workspace import visibility

router = APIRouter()
ProductCode = Annotated[str, Path(max_length=16, pattern=r"^[A-Z0-9-]+$")]
# Words for the outcomes, shown on the buttons (gettext through the template).
OUTCOME_WORDS = {"offered": "已推荐", "interested": "有兴趣", "accepted": "已接受",
                 "declined": "已拒绝", "not_suitable": "不适合"}  # fmt: skip


async def _customer_no(db: AsyncSession, request: Request, principal: Principal, cid: int):  # type: ignore[no-untyped-def]
    conversation, _ = await visibility.readable(db, request, principal, cid)
    customer = (
        await db.get(Customer, conversation.customer_id) if conversation.customer_id else None
    )
    return conversation, customer.bank_customer_no if customer else None


async def _render(
    request: Request, principal: Principal, db: AsyncSession, bank: BankPort, cid: int,
    notice: str | None = None, *, keep: bool = False,
) -> Response:  # fmt: skip
    from kefu.web.templating import templates

    conversation, customer_no = await _customer_no(db, request, principal, cid)
    panel, problem = None, None
    if customer_no is None:
        problem = "客户未识别，暂无推荐"
    else:
        try:
            result = await service.offers_for(db, bank, customer_no, conversation=conversation,
                                              keep=keep)  # fmt: skip
            if keep:
                await db.commit()
            panel, problem = result.decision, result.problem
        except NotFound:
            problem = "银行系统中没有该客户，暂无推荐"
        except BankError:
            problem = "银行系统暂时无法应答，暂无推荐"
    # What the customer asked an agent about (a banner click): first in the list, marked.
    leads = await service.interest_in(db, cid)
    if panel is not None and leads:
        panel.offers.sort(key=lambda o: o.product.code not in leads)  # stable: else in order
    return templates.TemplateResponse(
        request,
        "crosssell/_panel.html",
        {"cid": cid, "decision": panel, "problem": problem, "notice": notice,
         "csrf": csrf_token(request), "outcomes": OUTCOME_WORDS, "leads": leads},
    )  # fmt: skip


@router.get("/workspace/conversations/{conversation_id}/offers", include_in_schema=False)
async def offers_panel(
    request: Request,
    conversation_id: int,
    principal: Principal = Depends(require(Permission.CROSSSELL_OFFERS)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    return await _render(request, principal, db, bank, conversation_id)


@router.post(
    "/workspace/conversations/{conversation_id}/offers/{product_code}/outcome",
    include_in_schema=False,
)
async def record_outcome(
    request: Request,
    conversation_id: int,
    product_code: ProductCode,
    outcome: Annotated[str, Form(max_length=16)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    principal: Principal = Depends(require(Permission.CROSSSELL_OFFERS)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    check_csrf(request, csrf)
    if outcome not in OUTCOMES:
        raise HTTPException(422, f"outcome must be one of {', '.join(OUTCOMES)}")
    _, customer_no = await _customer_no(db, request, principal, conversation_id)
    if customer_no is None:
        raise HTTPException(409, "the conversation's customer is not identified")
    new = await service.record_outcome(
        db, customer_no=customer_no, product_code=product_code, outcome=outcome,
        conversation_id=conversation_id,
        agent_id=principal.id if principal.kind == "user" else None,
    )  # fmt: skip
    await db.commit()
    word = OUTCOME_WORDS[outcome]
    notice = f"已记录：{word}" if new else f"此前已记录过「{word}」，不重复计数"
    # A POST may write: a live score computed for the panel it answers with is kept.
    return await _render(request, principal, db, bank, conversation_id, notice, keep=True)
