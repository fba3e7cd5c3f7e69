"""The home's Ed25519 signing key: evidence an outsider can verify with the public key alone.

The private key is ``<home>/signing.key`` (PKCS#8 PEM, owner-only like the pseudonym key),
created the first time something is signed or the public key is exported. The public key
(``lineage key public``) is what a supervisory authority is given; its fingerprint is the
SHA-256 of its DER SubjectPublicKeyInfo, so anyone can recompute it with
``openssl pkey -pubin -in key.pem -outform DER | sha256sum``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from lineage.config import check_owner_only, write_secret
from lineage.errors import ConfigError, InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

KEY_FILE = "signing.key"


def signing_key(home: Path) -> Ed25519PrivateKey:
    """The home's private key, created on first need (never overwritten)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = home / KEY_FILE
    if not path.exists():
        if not home.is_dir():
            raise ConfigError(f"no lineage home at {home}: run `lineage init`")
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_secret(path, pem)  # another process may have made it first: that one counts
    check_owner_only(path, "signing key")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise ConfigError(f"{path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex."""
    from cryptography.hazmat.primitives import serialization

    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def load_public(data: bytes, where: str) -> Ed25519PublicKey:
    """A public key from PEM; ``InputError`` naming ``where`` when it is not an Ed25519 one."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError("not a PEM public key", where) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an Ed25519 public key", where)
    return key
