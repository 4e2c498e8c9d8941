/* HighwayHash (64/128/256-bit output), portable C plus an AVX2 path.
 *
 * Written for liteio from the published description of Google's
 * HighwayHash; MinIO protects every shard chunk with HighwayHash-256 under a
 * fixed key, so the output must match it bit for bit.
 *
 * Digests are the 64-bit result lanes written little-endian, lane 0 first.
 *
 * Layers, lowest first:
 *   hh_reset / hh_update_packets / hh_finish   whole 32-byte packets + tail
 *   hh_stream_*                                any byte counts (32-byte pending)
 *   hh_hash / hh_hash_many / hh_verify_many    one-shot, batched over shards
 * Every function is thread-safe for distinct states and never allocates.
 */
#ifndef LITEIO_HH_H
#define LITEIO_HH_H

#include <stddef.h>
#include <stdint.h>

#define HH_KEY_SIZE 32
#define HH_PACKET_SIZE 32

/* Which kernel runs; AUTO picks the fastest this CPU supports. */
enum hh_impl { HH_IMPL_AUTO = 0, HH_IMPL_PORTABLE = 1, HH_IMPL_AVX2 = 2 };

/* The four 4 x u64 state vectors.
 * NOTE: deliberately not declared 32-byte aligned: states live inside Python
 * objects, which are only 16-byte aligned, so kernels use unaligned loads. */
typedef struct hh_state {
    uint64_t v0[4];
    uint64_t v1[4];
    uint64_t mul0[4];
    uint64_t mul1[4];
} hh_state;

/* Streaming hasher: the state plus up to 31 bytes not yet forming a packet. */
typedef struct hh_stream {
    hh_state state;
    uint8_t pending[HH_PACKET_SIZE];
    size_t npending; /* always < HH_PACKET_SIZE between calls */
} hh_stream;

/* Select a kernel. Returns 0, or -1 if the CPU cannot run it (the current
 * choice is then kept). Not meant to be raced against hashing threads. */
int hh_set_impl(int impl);
/* The kernel in use: HH_IMPL_PORTABLE or HH_IMPL_AVX2. */
int hh_get_impl(void);
int hh_cpu_has_avx2(void);

/* Packet layer. */
void hh_reset(hh_state *s, const uint8_t key[HH_KEY_SIZE]);
void hh_update_packets(hh_state *s, const uint8_t *data, size_t npackets);
/* Absorb the final ntail (< 32) bytes and write digest_size (8, 16 or 32)
 * bytes to out. *s is left unspecified (it is the working copy). */
void hh_finish(hh_state *s, const uint8_t *tail, size_t ntail, int digest_size,
               uint8_t *out);

/* Streaming layer. hh_stream_digest does not change the stream. */
void hh_stream_reset(hh_stream *st, const uint8_t key[HH_KEY_SIZE]);
void hh_stream_update(hh_stream *st, const uint8_t *data, size_t len);
void hh_stream_digest(const hh_stream *st, int digest_size, uint8_t *out);

/* One-shot layer. digest_size is 8, 16 or 32 everywhere. */
void hh_hash(const uint8_t key[HH_KEY_SIZE], const uint8_t *data, size_t len,
             int digest_size, uint8_t *out);
/* outs[i] = HH(key, data[i][0:lens[i]]) for i < n. */
void hh_hash_many(const uint8_t key[HH_KEY_SIZE], const uint8_t *const *data,
                  const size_t *lens, size_t n, int digest_size,
                  uint8_t *const *outs);
/* bad[i] = 1 if HH(key, data[i]) != expected[i][0:digest_size], else 0.
 * Returns the number of mismatches. */
size_t hh_verify_many(const uint8_t key[HH_KEY_SIZE], const uint8_t *const *data,
                      const size_t *lens, size_t n, int digest_size,
                      const uint8_t *const *expected, uint8_t *bad);

#endif /* LITEIO_HH_H */
