"""lineage's built-in connectors: e-conomic, Mailchimp, Stripe, QuickPay, Zendesk Sell and
Files, with their mappings and erasers.

Each is a plugin in the entry-point group ``lineage.connectors`` (erasers in
``lineage.erasers``), registered the way a third-party package registers its own. What
every connector shares (the ``Connector`` interface, sync engine and state, HTTP helpers and
paginators, webhook verification and receiver, registry and settings) is the ingest layer,
``lineage.ingest``; a plugin here holds only what differs per vendor.
"""
