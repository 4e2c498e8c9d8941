# Declarations from ext/csrc/crc/crc64nvme.h. Nothing else lives here.
from libc.stdint cimport uint64_t

cdef extern from "crc64nvme.h" nogil:
    uint64_t crc64nvme(uint64_t crc, const void *buf, size_t len)
    uint64_t crc64nvme_portable(uint64_t crc, const void *buf, size_t len)
    int crc64nvme_uses_clmul()
