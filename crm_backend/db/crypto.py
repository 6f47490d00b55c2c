"""Encryption at rest of customers' personal fields, and the keyed hashes that keep look-ups index probes.

A :class:`Keyring` is built from settings (``CRM_DATA_KEYS``, ``CRM_LOOKUP_KEY``) and attached to an engine's dialect
by ``make_engine``; the column types :class:`EncryptedText` and :class:`EncryptedJSON` encrypt every bound value
(ORM and Core alike) with the ring's first key and decrypt every fetched value with whichever key of the ring wrote
it. A value that does not decrypt (unknown key, tampered or clear text) raises :class:`DecryptionError`; it is never
returned as it stands. Encrypted columns refuse SQL comparisons: compare their ``*_hash`` column instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from crm_backend.util import normalise_email, postcode_key

PREFIX = "e1"  # format version: "e1.<key id>.<base64url(nonce | ciphertext | tag)>"
KEY_BYTES = 32  # AES-256-GCM
NONCE_BYTES = 12
DIALECT_ATTRIBUTE = "crm_keyring"
MIN_LOOKUP_KEY_CHARS = 32


class KeyringError(ValueError):
    """A malformed CRM_DATA_KEYS or CRM_LOOKUP_KEY."""


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted with the keys of the ring."""


def generate_key() -> str:
    """A new data key as CRM_DATA_KEYS takes it: 32 random bytes, URL-safe base64 (44 characters)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_data_keys(text: str) -> list[bytes]:
    """CRM_DATA_KEYS: comma-separated URL-safe base64 keys of 32 bytes each, the first one encrypting."""
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise KeyringError("CRM_DATA_KEYS is empty: give at least one key (crm generate-key)")
    keys = []
    for index, part in enumerate(parts, 1):
        try:
            key = base64.urlsafe_b64decode(part.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise KeyringError(f"CRM_DATA_KEYS: key {index} is not URL-safe base64") from None
        if len(key) != KEY_BYTES:
            raise KeyringError(f"CRM_DATA_KEYS: key {index} is {len(key)} bytes, not {KEY_BYTES}")
        keys.append(key)
    return keys


def key_id(key: bytes) -> str:
    """A short public name of a data key, stored with each value it encrypts (not derived from it reversibly)."""
    return hmac.new(key, b"crm-data-key-id", hashlib.sha256).hexdigest()[:8]


class Keyring:
    """Data keys (the first encrypts, all decrypt) and the look-up hash key."""

    def __init__(self, data_keys: Sequence[bytes], lookup_key: bytes) -> None:
        if not data_keys:
            raise KeyringError("a keyring needs at least one data key")
        if len(lookup_key) < MIN_LOOKUP_KEY_CHARS:
            raise KeyringError(f"CRM_LOOKUP_KEY must be at least {MIN_LOOKUP_KEY_CHARS} characters")
        self._ciphers = {key_id(k): AESGCM(k) for k in reversed(data_keys)}  # the first key wins a name collision
        self.current_id = key_id(data_keys[0])
        self._current = self._ciphers[self.current_id]
        self._lookup_key = lookup_key
        self.key_ids = [key_id(k) for k in data_keys]

    @classmethod
    def from_strings(cls, data_keys: str, lookup_key: str) -> Keyring:
        return cls(parse_data_keys(data_keys), lookup_key.encode("utf-8"))

    @classmethod
    def from_settings(cls, settings: Any) -> Keyring:
        return cls.from_strings(settings.data_keys, settings.lookup_key)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, plaintext.encode("utf-8"), None)
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{PREFIX}.{self.current_id}.{body}"

    def decrypt(self, token: str) -> str:
        kid = self.token_key_id(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"a value was encrypted with data key {kid}, which is not in CRM_DATA_KEYS (its keys: "
                + ", ".join(self.key_ids)
                + "): add that key back to the ring"
            )
        body = token.split(".", 2)[2]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError) as error:
            raise DecryptionError(
                f"a value encrypted with data key {kid} failed authentication: altered, or CRM_DATA_KEYS holds a "
                "different key under that name"
            ) from error

    @staticmethod
    def token_key_id(token: str) -> str:
        """The key id a stored value names; DecryptionError when it is not a value this module wrote."""
        parts = token.split(".", 2) if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != PREFIX:
            raise DecryptionError(
                "an encrypted column holds a value that is not ciphertext (clear text written around the CRM, or a "
                "database not migrated: run `crm init`)"
            )
        return parts[1]

    def is_current(self, token: str) -> bool:
        return self.token_key_id(token) == self.current_id

    def lookup_hash(self, kind: str, normalised: str) -> str:
        """HMAC-SHA256 of an already normalised value; ``kind`` separates e-mails from postcodes."""
        message = f"{kind}\x00{normalised}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def email_hash(self, email: str) -> str:
        return self.lookup_hash("email", normalise_email(email))

    def postcode_hash(self, postcode: str) -> str:
        return self.lookup_hash("postcode", postcode_key(postcode))

    def hash_of(self, kind: str, value: str) -> str:
        """The look-up hash of a raw value of ``kind`` ("email" or "postcode"), normalised first."""
        if kind == "email":
            return self.email_hash(value)
        if kind == "postcode":
            return self.postcode_hash(value)
        raise ValueError(f"no look-up hash of kind {kind!r}")


def attach_keyring(engine: Engine, keyring: Keyring) -> Engine:
    setattr(engine.dialect, DIALECT_ATTRIBUTE, keyring)
    return engine


def keyring_of(dialect: Dialect) -> Keyring:
    keyring = getattr(dialect, DIALECT_ATTRIBUTE, None)
    if keyring is None:
        raise DecryptionError(
            "this engine has no CRM keyring: build it with crm_backend.db.make_engine(settings), not create_engine()"
        )
    return keyring


def _denied_operators() -> frozenset[Any]:
    names = (
        "lt", "le", "gt", "ge", "like_op", "not_like_op", "notlike_op", "ilike_op", "not_ilike_op", "notilike_op",
        "in_op", "not_in_op", "notin_op", "between_op", "not_between_op", "notbetween_op", "startswith_op",
        "endswith_op", "contains_op", "match_op", "regexp_match_op", "concat_op",
    )  # fmt: skip
    return frozenset(getattr(operators, name) for name in names if hasattr(operators, name))


_DENIED = _denied_operators()


def _refuse(op: Any, other: tuple[Any, ...]) -> None:
    if op in _DENIED or (op in (operators.eq, operators.ne) and not (other and other[0] is None)):
        raise TypeError(
            "an encrypted column cannot be compared in SQL (its stored values are randomised ciphertext): "
            "compare its *_hash column with the keyring's hash of the value"
        )


class EncryptedType(TypeDecorator):
    """Text in the database holding ``e1.`` ciphertext; subclasses say how a Python value becomes a string."""

    impl = Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            _refuse(op, other)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            _refuse(op, (other,))
            return super().reverse_operate(op, other, **kwargs)

    def serialise(self, value: Any) -> str:
        raise NotImplementedError

    def deserialise(self, text: str) -> Any:
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(self.serialise(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.deserialise(keyring_of(dialect).decrypt(value))

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        raise TypeError("an encrypted value cannot be rendered into SQL text")


class EncryptedText(EncryptedType):
    """A string column stored encrypted."""

    cache_ok = True

    def serialise(self, value: Any) -> str:
        return str(value)

    def deserialise(self, text: str) -> str:
        return text


class EncryptedJSON(EncryptedType):
    """A JSON document column stored encrypted (serialised with ``json.dumps`` first)."""

    cache_ok = True

    def serialise(self, value: Any) -> str:
        return json.dumps(value)

    def deserialise(self, text: str) -> Any:
        return json.loads(text)


def hash_default(source: str, kind: str) -> Callable[[Any], str | None]:
    """A column default computing the keyed hash of ``source`` for inserts that do not set it (Core bulk inserts)."""

    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(source)
        if value is None:
            return None
        keyring = keyring_of(context.dialect)
        return keyring.hash_of(kind, value)

    return default


def session_keyring(session: Session) -> Keyring:
    """The keyring of the engine a session is bound to."""
    return keyring_of(session.get_bind().dialect)
