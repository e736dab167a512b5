from kefu.auth.permissions import ROLE_PERMISSIONS, Permission, allowed
from kefu.vocabulary import Role


def test_every_role_has_home_and_is_refused_something() -> None:
    for role in Role:
        if role is Role.PARTNER:  # a partner's API key is a system, not staff: no home page
            assert not allowed(role.value, Permission.HOME)
            continue
        assert allowed(role.value, Permission.HOME)
        assert ROLE_PERMISSIONS[role] != set(Permission), role


def test_unknown_role_has_nothing() -> None:
    assert not allowed("superuser", Permission.HOME)
