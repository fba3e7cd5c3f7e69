"""``lineage serve``: one process that owns the projection and answers over HTTP.

``runtime`` holds the projection, its follower and the log writer; ``api`` the FastAPI
routes (the CLI's service functions, the CLI's JSON); ``http`` body limits, timeouts and the
access log; ``tokens`` the bearer tokens and their scopes.
"""
