import pytest

from kefu.auth.passwords import WeakPassword, check_strength, hash_password, verify_password


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct-horse-1")
    assert hashed.startswith("$argon2id$")
    assert "correct-horse-1" not in hashed
    assert verify_password(hashed, "correct-horse-1")
    assert not verify_password(hashed, "correct-horse-2")
    assert not verify_password("not-a-hash", "x")


@pytest.mark.parametrize("weak", ["short1", "onlyletterslong", "12345678901"])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(WeakPassword):
        check_strength(weak)
