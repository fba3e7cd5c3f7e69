"""A webshop records what it does with a customer's data, into its own lineage home.

lineage --home shop-home init
python examples/sdk/embedded.py shop-home
lineage --home shop-home who-has jane@example.com
"""

import sys

from lineage.sdk import Recorder

home = sys.argv[1] if len(sys.argv) > 1 else ".lineage"
jane = {"email": "jane@example.com", "customer_number": "1042"}  # one person, linked

with Recorder(home=home, source="webshop") as rec:  # flushed when the block ends
    rec.collected(
        jane,
        categories=["user.name", "user.contact.email"],
        system="webshop-db",
        purpose="essential.service",
        legal_basis="contract",
        data_subject="customer",
        retention="P2Y",
    )
    rec.shared(
        "jane@example.com",
        categories=["user.name"],
        from_holder="webshop-db",
        recipient="e-conomic",
        recipient_role="processor",
        recipient_country="DK",
        purpose="essential.legal_obligation",
        legal_basis="legal_obligation",
        retention="P5Y",
    )
    rec.consent_given(
        "jane@example.com",
        purpose="marketing.communications.email",
        evidence={"channel": "signup form", "text_version": "2024-01"},
    )
    rec.transferred(
        "jane@example.com",
        categories=["user.contact.email"],
        from_holder="webshop-db",
        recipient="mailchimp",
        destination_country="US",
        mechanism="dpf",
        purpose="marketing.communications.email",
        legal_basis="consent",
    )
print(f"recorded {rec.recorded} events")
