"""MYSuite documents: native XML in, stamped CFDI 4.0, PDF and ZIP out.

Pure functions (no HTTP, no database), one module per job:

- :mod:`.native` reads a native document (``fx:FactDocMX``, version 8) into a :class:`NativeDocument`;
- :mod:`.cfdi` builds the stamped CFDI 4.0 from it (:func:`build_cfdi`) and reads its header back;
- :mod:`.pdf` prints a readable invoice of a CFDI (:func:`render_pdf`);
- :mod:`.packages` packs a file into the ZIP a download link hands out (:func:`zip_single`).

The service turns a :class:`NativeDocumentError` into ``Status 3`` with its message as ``ErrorMsg``.
Sample native documents for tests: :mod:`mockserver.testing.mysuite`.
"""

from .cfdi import RsaSigner, Signer, build_cfdi, certificate_number_of, cfdi_header
from .common import CFDI_NS, FX_NS, NATIVE_VERSION, TFD_NS, NativeDocumentError
from .native import NativeDocument, read_native
from .packages import zip_single
from .pdf import PDF_MAX_CONCEPTOS, render_pdf

__all__ = [
    "CFDI_NS",
    "FX_NS",
    "NATIVE_VERSION",
    "PDF_MAX_CONCEPTOS",
    "TFD_NS",
    "NativeDocument",
    "NativeDocumentError",
    "RsaSigner",
    "Signer",
    "build_cfdi",
    "certificate_number_of",
    "cfdi_header",
    "read_native",
    "render_pdf",
    "zip_single",
]
