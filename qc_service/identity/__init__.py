"""Who is asking: users, credentials (sessions, API tokens) and the one policy module (ACCESS.md).

A low floor: imports only config, db and errors, so ``web/`` and every domain may use it.
"""
