"""Project API keys and signed feedback tokens: pure functions, no database."""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "sk_"  # noqa: S105 - a prefix, not a secret
PUBLIC_PREFIX = "pk_"
SIGNING_PREFIX = "fs_"


def key_generate(*, prefix: str) -> str:
    """A new random key such as ``sk_3q...``; 256 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


def key_hash(raw_key: str) -> str:
    # Keys are random and long, so a fast unsalted hash is enough and allows lookup by hash.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def key_display(raw_key: str, *, public: bool) -> str:
    return raw_key if public else raw_key[:10] + "…"


def signing_secret_generate() -> str:
    return key_generate(prefix=SIGNING_PREFIX)


def feedback_token(*, secret: str, conversation_id: str, message_id: str, user: str) -> str:
    """HMAC-SHA256 hex of ``conversation_id:message_id:user``, computed by the chatbot backend."""
    payload = f"{conversation_id}:{message_id}:{user}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def feedback_token_valid(
    *, secret: str, token: str, conversation_id: str, message_id: str, user: str
) -> bool:
    expected = feedback_token(
        secret=secret, conversation_id=conversation_id, message_id=message_id, user=user
    )
    # Bytes: compare_digest refuses str holding anything but ASCII.
    return hmac.compare_digest(expected.encode(), token.encode())
