from kefu.privacy import mask_card, mask_data, mask_id_number, mask_name, mask_phone, mask_text


def test_field_masks() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_card("6214830000001234567") == "6214 **** **** 4567"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"


def test_free_text_masking_covers_every_kind() -> None:
    text = "客户13812345678身份证11010519491231002X卡号6214830000001234567"
    masked = mask_text(text)
    assert "13812345678" not in masked and "138****5678" in masked
    assert "11010519491231002X" not in masked and "110105********002X" in masked
    assert "6214830000001234567" not in masked and masked.endswith("4567")
    assert mask_text("订单号 12345") == "订单号 12345"


def test_numbers_typed_with_spaces_dashes_full_width_digits_or_plus_86() -> None:
    """Issue 21, finding 6: the forms a customer types, which the masker used to miss."""
    cases = {
        "卡号6214 8300 0000 1126 488请查": "6214********6488",
        "6214-8300-0000-1126-488": "6214********6488",
        "６２１４８３００００００１１２６４８８": "6214********6488",
        "手机+8615212345679": "+86152****5679",
        "+86 152 1234 5679": "+86152****5679",
        "００８６１５２１２３４５６７９": "+86152****5679",
        "电话 138-1234-5678": "138****5678",
        "身份证 110105 19491231 002X": "110105********002X",
        "身份证１１０１０５１９４９１２３１００２Ｘ": "110105********002X",
    }
    for typed, masked in cases.items():
        out = mask_text(typed)
        assert masked in out, (typed, out)
        digits = "".join(
            c
            for c in typed.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
            if c.isdigit()
        )
        assert digits not in "".join(c for c in out if c.isdigit())


def test_ordinary_numbers_are_left_alone() -> None:
    for text in ("订单号 12345", "2026-11-29 13:00", "金额 1,234.56 元", "ref 1234567890123"):
        assert mask_text(text) == text


def test_structured_values_are_masked_wherever_text_sits() -> None:
    """Routing attributes and event details hold what customers and agents typed."""
    value = {"keywords": ["盗刷", "6214 8300 0000 1126 488"], "reason": "电话+8615212345679",
             "sentiment": -0.7, "crisis": True, "nested": {"id": ("110101199003071234",)}}  # fmt: skip
    assert mask_data(value) == {
        "keywords": ["盗刷", "6214********6488"], "reason": "电话+86152****5679",
        "sentiment": -0.7, "crisis": True, "nested": {"id": ["110101********1234"]},
    }  # fmt: skip
