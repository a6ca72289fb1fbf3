"""One exception family for every failure a user can see.

Each class carries a stable ``reason`` code (used in logs, quarantine notes and
exports) and an ``exit_code`` the CLI returns. Messages say how to fix the
problem, not just what went wrong.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status a command returns (README's exit-code tables list them)."""

    ok = 0
    rows_rejected = 1  # import-review: some rows were rejected and not applied
    bad_args = 2
    input_file = 3  # a file could not be read as a fax
    no_form = 4  # files were read but held no form page
    template = 5  # a form template is invalid or missing
    engine = 6  # an OCR engine or model is missing
    store = 7  # the record store could not be used
    lossy_export = 8  # an export would change or drop characters and that was not accepted
    other = 10
    interrupted = 130  # stopped by Ctrl-C before a clean stop (128 + SIGINT, as shells report it)


class IntakeError(Exception):
    """Base of all user-facing failures."""

    reason = "error"
    exit_code = ExitCode.other

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message}"


class InputFileError(IntakeError):
    """A file could not be turned into page images."""

    reason = "unreadable_file"
    exit_code = ExitCode.input_file


class EmptyFileError(InputFileError):
    reason = "empty_file"


class UnsupportedFormatError(InputFileError):
    reason = "unsupported_format"


class CorruptFileError(InputFileError):
    reason = "corrupt_file"


class EncryptedPdfError(InputFileError):
    reason = "encrypted_pdf"


class ImageTooLargeError(InputFileError):
    """One page would decode to more pixels than any fax (checked before decoding)."""

    reason = "image_too_large"


class NoPagesError(InputFileError):
    reason = "no_pages"


class TooManyPagesError(InputFileError):
    """More pages than the desk reads from one file: refused whole, never cut short."""

    reason = "too_many_pages"


class PixelBudgetError(InputFileError):
    """All pages together would decode to more pixels than one file may take (checked before decoding)."""

    reason = "pixel_budget_exceeded"


class FileTooLargeError(InputFileError):
    reason = "file_too_large"


class NoFormFoundError(IntakeError):
    """Every page of a file was read, but none was a known form."""

    reason = "no_form_found"
    exit_code = ExitCode.no_form


class TemplateError(IntakeError):
    reason = "template_invalid"
    exit_code = ExitCode.template


class EngineError(IntakeError):
    """An OCR engine or a bundled model is missing or broken."""

    reason = "engine_unavailable"
    exit_code = ExitCode.engine


class RegisterError(IntakeError):
    """The contract register or staff directory cannot be used; it is refused whole, never half-loaded."""

    reason = "register_invalid"
    exit_code = ExitCode.bad_args


class StoreError(IntakeError):
    reason = "store_error"
    exit_code = ExitCode.store


class StoreWriteError(StoreError):
    """The store refused a write (disk full, I/O error, read-only): the desk must stop."""

    reason = "store_write_failed"


class NotADatabaseError(StoreError):
    reason = "not_a_database"


class InboxBusyError(StoreError):
    """Another watcher already holds this inbox (or this store)."""

    reason = "inbox_busy"


class InboxIsDataFolderError(StoreError):
    """The inbox is one of the desk's own folders (archive, quarantine, crops, the store's folder)."""

    reason = "inbox_is_data_folder"


class InboxMissingError(StoreError):
    reason = "inbox_missing"

class VersionConflict(StoreError):
    """Someone else decided the same record first: nothing was written; reload and look again."""

    reason = "version_conflict"


class ReviewError(IntakeError):
    """A review decision cannot be made as asked (a rule not accepted, a note missing, a wrong state)."""

    reason = "review_refused"
    exit_code = ExitCode.bad_args
