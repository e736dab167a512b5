import pytest

from kefu.channels.sms.numbers import is_mobile, national


@pytest.mark.parametrize(
    ("given", "expected"),
    [("13800138000", "13800138000"), ("8613800138000", "13800138000"),
     ("+8613800138000", "13800138000"), (" 13800138000 ", "13800138000"), ("95511", "95511")],
)  # fmt: skip
def test_national_drops_the_country_code(given: str, expected: str) -> None:
    assert national(given) == expected


def test_is_mobile() -> None:
    assert is_mobile("13800138000")
    assert not is_mobile("12800138000") and not is_mobile("1380013800") and not is_mobile("95511")
