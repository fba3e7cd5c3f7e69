"""The ``lineage`` command line (click). Heavy imports happen inside the commands."""
