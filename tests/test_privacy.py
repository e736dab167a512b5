from kefu.privacy import mask_card, mask_id_number, mask_name, mask_phone, mask_text


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
