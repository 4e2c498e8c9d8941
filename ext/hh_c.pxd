# Declarations from ext/csrc/highwayhash/hh.h. Nothing else lives here.
from libc.stdint cimport uint8_t, uint64_t

cdef extern from "hh.h" nogil:
    enum:
        HH_KEY_SIZE
        HH_PACKET_SIZE
        HH_IMPL_AUTO
        HH_IMPL_PORTABLE
        HH_IMPL_AVX2

    ctypedef struct hh_state:
        uint64_t v0[4]
        uint64_t v1[4]
        uint64_t mul0[4]
        uint64_t mul1[4]

    ctypedef struct hh_stream:
        hh_state state
        uint8_t pending[32]
        size_t npending

    int hh_set_impl(int impl)
    int hh_get_impl()
    int hh_cpu_has_avx2()

    void hh_stream_reset(hh_stream *st, const uint8_t *key)
    void hh_stream_update(hh_stream *st, const uint8_t *data, size_t length)
    void hh_stream_digest(const hh_stream *st, int digest_size, uint8_t *out)

    void hh_hash(const uint8_t *key, const uint8_t *data, size_t length,
                 int digest_size, uint8_t *out)
    void hh_hash_many(const uint8_t *key, const uint8_t *const *data,
                      const size_t *lens, size_t n, int digest_size,
                      uint8_t *const *outs)
    size_t hh_verify_many(const uint8_t *key, const uint8_t *const *data,
                          const size_t *lens, size_t n, int digest_size,
                          const uint8_t *const *expected, uint8_t *bad)
