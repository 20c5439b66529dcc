"""Meta webhooks: signature check, payload parsing, processing, and the web app."""

from metasync.webhooks.payload import Change, PayloadError, parse_notification
from metasync.webhooks.signature import SignatureError, verify_signature

__all__ = ["Change", "PayloadError", "SignatureError", "parse_notification", "verify_signature"]
