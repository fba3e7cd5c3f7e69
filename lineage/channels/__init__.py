"""Transports that carry rights requests to recipients: signed answer links (``links``),
e-mail over SMTP (``email``) and signed webhooks (``webhook``). What to send, when, and
what is recorded is decided in ``lineage.services.erasure.channels``."""
