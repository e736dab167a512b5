"""Values the marketing and partner pages render through _(): template kinds and the partner
role, listed so that extraction puts them in the catalogues. (Template statuses have labels of
their own in outbound/_labels.html.)"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    return message


LABELS = [
    N_("notification"), N_("marketing"), N_("otp"),
    N_("partner"),
]  # fmt: skip
