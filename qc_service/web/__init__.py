"""The low floor of HTTP: request dependencies, the one error shape, PII masking of responses.

Imports only config, db, errors, identity, audit and the pure contact detector; never a domain.
"""
