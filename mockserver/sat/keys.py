"""SAT private keys (``.key``): encrypted PKCS#8 DER; PEM accepted too.

Error messages never contain the password.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .certificates import Certificate
from .errors import KeyFormatError, KeyMismatch, WrongKeyPassword


def load_private_key(data: bytes, password: str) -> rsa.RSAPrivateKey:
    """Decrypt a CSD/FIEL private key.

    Raises :class:`WrongKeyPassword` when the key is encrypted and the password does not open it, and
    :class:`KeyFormatError` when the bytes are not a private key (or not RSA, or not encrypted while a
    password was given: SAT never issues unencrypted keys).
    """
    if not isinstance(data, bytes | bytearray) or not data:
        raise KeyFormatError("llave privada vacía")
    data = bytes(data)
    secret = password.encode("utf-8") if password else None
    is_pem = data.lstrip().startswith(b"-----BEGIN")
    if not is_pem and data[:1] != b"\x30":
        raise KeyFormatError("la llave privada no es PKCS#8 DER ni PEM")
    loader = serialization.load_pem_private_key if is_pem else serialization.load_der_private_key
    try:
        key = loader(data, password=secret)
    except TypeError as exc:
        # cryptography: "Password was not given but private key is encrypted" or the reverse.
        if "not encrypted" in str(exc):
            raise KeyFormatError("la llave privada no está cifrada") from None
        raise WrongKeyPassword("la llave privada requiere contraseña") from None
    except ValueError as exc:
        if _is_encrypted(data, loader):
            raise WrongKeyPassword("contraseña de la llave privada incorrecta") from None
        raise KeyFormatError(f"llave privada ilegible ({type(exc).__name__})") from None
    except Exception:  # e.g. unsupported algorithm
        raise KeyFormatError("llave privada ilegible") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("la llave privada no es RSA")
    return key


def ensure_key_matches(cert: Certificate, key: rsa.RSAPrivateKey) -> None:
    """Raise :class:`KeyMismatch` unless ``key`` is the private half of ``cert``'s public key."""
    pub = cert.public_key()
    if not isinstance(pub, rsa.RSAPublicKey) or pub.public_numbers() != key.public_key().public_numbers():
        raise KeyMismatch(f"la llave privada no corresponde al certificado {cert.certificate_number}")


def encrypt_private_key(key: rsa.RSAPrivateKey, password: str) -> bytes:
    """PKCS#8 DER encrypted with ``password``, the SAT ``.key`` layout."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def _is_encrypted(data: bytes, loader) -> bool:  # type: ignore[no-untyped-def]
    """True when the bytes are an encrypted key (cryptography asks for a password)."""
    try:
        loader(data, password=None)
    except TypeError:
        return True
    except Exception:
        return False
    return False
