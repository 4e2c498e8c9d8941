"""The compiled engine, built from ``ext/*.pyx`` by ``setup.py``.

Modules: ``erasure`` (Reed-Solomon on ISA-L), ``highwayhash`` (bitrot hash),
``crc`` (S3 checksums), ``buffers`` (aligned buffer pool), ``directio``
(O_DIRECT file I/O). Each has a ``.pyi`` stub beside this file.
"""
