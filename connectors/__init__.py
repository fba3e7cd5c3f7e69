"""lineage connectors: read the systems where personal data goes and emit the events.

A connector (``connectors.base.Connector``) is a plugin registered in the entry-point group
``lineage.connectors``. The built-in ones are e-conomic, Mailchimp, Stripe, QuickPay,
Zendesk Sell and Files; the sync engine (``connectors.sync``) runs any of them.
"""

from connectors.base import (
    Connector,
    Defaults,
    Eraser,
    ErasureOutcome,
    MappedConfig,
    MappingContext,
    Resource,
    WebhookDelivery,
    WebhookHandler,
    WebhookRequest,
)
from connectors.config import ConnectorConfig, Secret, load_config
from connectors.errors import (
    AuthError,
    ConnectorError,
    PayloadError,
    RequestError,
    SignatureError,
    TransientError,
)
from connectors.paginate import Page

__all__ = [
    "AuthError",
    "Connector",
    "ConnectorConfig",
    "ConnectorError",
    "Defaults",
    "Eraser",
    "ErasureOutcome",
    "MappedConfig",
    "MappingContext",
    "Page",
    "PayloadError",
    "RequestError",
    "Resource",
    "Secret",
    "SignatureError",
    "TransientError",
    "WebhookDelivery",
    "WebhookHandler",
    "WebhookRequest",
    "load_config",
]
