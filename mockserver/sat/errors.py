"""Errors raised by the SAT core.

Every error carries a stable ``reason`` string (kebab-case) that providers map to their own
catalogue code, and a human message in Spanish or English that never contains secrets.
"""

from __future__ import annotations


class SatError(Exception):
    """Base of every error raised by :mod:`mockserver.sat`."""

    reason: str = "sat-error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.reason)

    @property
    def message(self) -> str:
        return str(self)


# --- certificates -------------------------------------------------------------------------------


class CertificateError(SatError):
    reason = "certificate-error"


class CertificateFormatError(CertificateError):
    """The bytes are not a readable X.509 certificate (DER, PEM or base64 of DER)."""

    reason = "certificate-format"


class CertificateExpired(CertificateError):
    reason = "certificate-expired"


class CertificateNotYetValid(CertificateError):
    reason = "certificate-not-yet-valid"


class UntrustedIssuer(CertificateError):
    """Not issued (name and signature) by a CA in the trust store."""

    reason = "untrusted-issuer"


class NotACsd(CertificateError):
    """The certificate is a FIEL (e.firma) or something else, not a CSD."""

    reason = "not-csd"


class CertificateRevoked(CertificateError):
    """SAT revoked the certificate (its number is on the revocation list)."""

    reason = "certificate-revoked"


class FechaOutsideValidity(CertificateError):
    """The Cancelacion's Fecha lies outside the certificate's validity period."""

    reason = "fecha-outside-validity"


# --- private keys -------------------------------------------------------------------------------


class PrivateKeyError(SatError):
    reason = "key-error"


class KeyFormatError(PrivateKeyError):
    """Not an (encrypted) PKCS#8 DER or PEM private key, or not RSA."""

    reason = "key-format"


class WrongKeyPassword(PrivateKeyError):
    reason = "key-wrong-password"


class KeyMismatch(PrivateKeyError):
    """The private key does not belong to the certificate."""

    reason = "key-mismatch"


# --- Cancelacion document -----------------------------------------------------------------------


class CancelacionError(SatError):
    reason = "cancelacion-error"


class MalformedXml(CancelacionError):
    """Not well-formed XML, or it declares a DOCTYPE / entities (refused for safety)."""

    reason = "malformed-xml"


class WrongRoot(CancelacionError):
    """The root element is not ``Cancelacion``."""

    reason = "wrong-root"


class WrongNamespace(CancelacionError):
    """The root is ``Cancelacion`` but not in ``http://cancelacfd.sat.gob.mx``."""

    reason = "wrong-namespace"


class BadStructure(CancelacionError):
    """Unexpected children, or the legacy and 2022 folio forms mixed in one document."""

    reason = "bad-structure"


class BadRfcEmisor(CancelacionError):
    reason = "bad-rfc-emisor"


class BadFecha(CancelacionError):
    """Fecha missing or not ``aaaa-MM-ddThh:mm:ss``."""

    reason = "bad-fecha"


class BadUuid(CancelacionError):
    reason = "bad-uuid"


class NoFolios(CancelacionError):
    reason = "no-folios"


class TooManyFolios(CancelacionError):
    reason = "too-many-folios"


class BadMotivo(CancelacionError):
    """Motivo missing (2022 format) or not in the catalogue 01–04."""

    reason = "bad-motivo"


class FolioSustitucionRequired(CancelacionError):
    reason = "folio-sustitucion-required"


class FolioSustitucionForbidden(CancelacionError):
    reason = "folio-sustitucion-forbidden"


# --- XMLDSig ------------------------------------------------------------------------------------


class SignatureError(SatError):
    reason = "signature-error"


class MalformedSignature(SignatureError):
    """Missing/duplicated/misplaced Signature, unsupported algorithm, bad KeyInfo, unreadable certificate."""

    reason = "malformed-signature"


class UnsignedContent(MalformedSignature):
    """Comments or processing instructions inside the document: content the signature does not cover."""

    reason = "unsigned-content"


class UnsupportedAlgorithm(MalformedSignature):
    """A signature or digest algorithm the caller does not allow (e.g. rsa-sha256 where rsa-sha1 is required)."""

    reason = "unsupported-algorithm"


class UnreadableCertificate(MalformedSignature):
    """``X509Certificate`` is not base64 of a readable X.509 certificate."""

    reason = "certificate-unreadable"


class InvalidSeal(SignatureError):
    reason = "invalid-seal"


class BadDigest(InvalidSeal):
    """The signed content was changed after signing (DigestValue mismatch)."""

    reason = "bad-digest"


class BadSeal(InvalidSeal):
    """SignatureValue does not verify with the embedded certificate's key."""

    reason = "bad-seal"


class SerialNumberMismatch(SignatureError):
    reason = "serial-number-mismatch"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "SerialNumber no corresponde al certificado")


class IssuerNameMismatch(SignatureError):
    reason = "issuer-name-mismatch"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "IssuerName incorrecto")


class RfcMismatch(SignatureError):
    reason = "rfc-mismatch"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "RFC no corresponde al del certificado")


class CertificateWithoutRfc(RfcMismatch):
    """The certificate carries no RFC (no x500UniqueIdentifier): nothing to compare RfcEmisor with."""

    reason = "certificate-without-rfc"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "el certificado no contiene un RFC (x500UniqueIdentifier)")
