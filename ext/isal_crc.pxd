# Declarations from <isa-l/crc.h> that liteio uses. Nothing else lives here.
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "isa-l/crc.h" nogil:
    uint32_t crc32_gzip_refl(uint32_t init_crc, const unsigned char *buf, uint64_t len)
    unsigned int crc32_iscsi(unsigned char *buffer, int len, unsigned int init_crc)
