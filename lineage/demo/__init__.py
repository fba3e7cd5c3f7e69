"""The bundled sample company for ``lineage demo``."""
