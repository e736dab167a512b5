import pytest

from kefu.bank.synthetic.checksums import (
    gb11643_check_digit,
    is_luhn_valid,
    is_valid_id_number,
    luhn_check_digit,
)


def test_gb11643_published_example() -> None:
    # The worked example of GB 11643-1999: 11010519491231002X.
    assert gb11643_check_digit("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("1101051949123100")


def test_luhn_known_numbers() -> None:
    assert is_luhn_valid("79927398713")
    assert is_luhn_valid("4111111111111111")
    assert not is_luhn_valid("4111111111111112")
    assert luhn_check_digit("7992739871") == "3"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        gb11643_check_digit("123")
    with pytest.raises(ValueError):
        luhn_check_digit("12a4")
