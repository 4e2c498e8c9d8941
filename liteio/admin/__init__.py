"""Operating a running server: the ``liteio admin`` command and its API client.

    AdminClient   SigV4-signed requests to /_liteio/admin/v1, streamed answers   client.py
    liteio admin  heal, heal-status                                              cli.py

The server side of the API is liteio/s3/admin.py.
"""
