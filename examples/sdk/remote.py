"""The same application against `lineage serve`: record over HTTP, then ask.

LINEAGE_URL=http://127.0.0.1:8787 LINEAGE_TOKEN=... python examples/sdk/remote.py
"""

from lineage.sdk import Client

with Client() as client:  # LINEAGE_URL, LINEAGE_TOKEN (a token with scope admin)
    client.collected(
        {"email": "jane@example.com"},
        categories=["user.contact.email"],
        system="newsletter-db",
        purpose="marketing.communications.email",
        legal_basis="consent",
        data_subject="customer",
    )
    print(client.flush())  # {"appended": 1, ...}: durable in the log
    answer = client.who_has("jane@example.com")
    for holder in answer["holders"]:
        print(holder["holder"], ", ".join(holder["categories"]))
