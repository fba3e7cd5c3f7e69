"""lineage: event-sourced personal-data lineage.

Layers, imported one way only (each may use the ones before it):

    events -> codec -> edge -> log -> projection -> graph -> services -> cli

Connectors (top-level ``connectors/``) depend on events and the connector interface only.
"""

__version__ = "0.1.0"
