"""The ``qc`` command line: analyze, ingest, rules, serve, worker."""
