"""Encryption at rest of the forms' personal data: ``cryptography``'s MultiFernet (AES-128-CBC
with HMAC-SHA256, a timestamp in each token). The first key encrypts, every key decrypts, so
a key is rotated by putting a new one first, re-encrypting (``rotate``) and dropping the old.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kefu.branch.settings import BranchSettings

KEY_FILE = Path("var") / "branch-forms.key"


class FormCipherError(RuntimeError):
    """A stored value no configured key opens (a key was dropped before rotating)."""


def _derived(secret: str) -> bytes:
    # A separate key per purpose: the session secret itself never encrypts data.
    digest = hashlib.sha256(b"kefu branch forms\x00" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _key_file(path: Path) -> bytes:
    """The key of an unconfigured install, made once (O_EXCL: two processes starting together
    keep the first one's key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet.generate_key())
    return path.read_bytes().strip()


class FormCipher:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_settings(
        cls, branch: BranchSettings, secret_key: str = "", key_file: Path = KEY_FILE
    ) -> FormCipher:
        if branch.form_keys:
            return cls([k.encode() for k in branch.form_keys])
        if secret_key:
            return cls([_derived(secret_key)])
        return cls([_key_file(key_file)])

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise FormCipherError("no configured key opens this form") from None

    def rotate(self, token: str) -> str:
        """The same value under the first key (unchanged when it already is)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise FormCipherError("no configured key opens this form") from None


def new_key() -> str:
    return Fernet.generate_key().decode()
