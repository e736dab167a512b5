"""Check digits the synthetic bank must get right: GB 11643 ID numbers and Luhn card numbers."""

from __future__ import annotations

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def gb11643_check_digit(first17: str) -> str:
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("GB 11643 needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_id_number(value: str) -> bool:
    return (
        len(value) == 18
        and value[:17].isdigit()
        and gb11643_check_digit(value[:17]) == value[17].upper()
    )


def luhn_check_digit(partial: str) -> str:
    """The digit to append to ``partial`` so the whole number passes Luhn."""
    if not partial.isdigit():
        raise ValueError("Luhn needs digits")
    total = 0
    # Walking from the right, the digit next to the (future) check digit is doubled.
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_luhn_valid(number: str) -> bool:
    return len(number) > 1 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def luhn_total(number: str) -> int:
    """Luhn's weighted digit sum of a whole number (check digit included): every second digit
    from the right doubled, digits of the products added. Valid numbers sum to a multiple of 10."""
    if not number.isdigit():
        raise ValueError("Luhn needs digits")
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total
