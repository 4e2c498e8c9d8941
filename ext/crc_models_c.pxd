# Declarations from ext/csrc/crc/crc_models.h. Nothing else lives here.
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "crc_models.h" nogil:
    uint64_t liteio_crc64nvme(uint64_t crc, const void *buf, size_t len)
    uint64_t liteio_crc64nvme_portable(uint64_t crc, const void *buf, size_t len)
    uint32_t liteio_crc32c(uint32_t crc, const void *buf, size_t len)
    uint32_t liteio_crc32c_portable(uint32_t crc, const void *buf, size_t len)
    uint32_t liteio_crc32(uint32_t crc, const void *buf, size_t len)
    uint32_t liteio_crc32_portable(uint32_t crc, const void *buf, size_t len)
    int liteio_crc_uses_clmul()
