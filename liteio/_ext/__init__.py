"""The compiled engine, built from ``ext/*.pyx`` by ``setup.py``.

Modules: ``erasure`` (Reed-Solomon on ISA-L), ``highwayhash`` (bitrot hash),
``crc`` (S3 checksums), ``buffers`` (aligned buffer pool), ``directio``
(O_DIRECT file I/O), ``keyhash`` (SipHash-2-4 set placement) and ``xlscan``
(one-pass xl.meta 1.3 scanning and body decoding, with its own xxHash64).
Each has a ``.pyi`` stub beside this file.
"""
