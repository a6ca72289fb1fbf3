"""fax-intake: read faxed, hand-filled forms into validated records."""

__version__ = "0.1.0"
