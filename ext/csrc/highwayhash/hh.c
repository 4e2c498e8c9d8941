/* HighwayHash for liteio: a portable kernel and an AVX2 kernel behind one
 * dispatch table. See hh.h for the API and the output byte order.
 *
 * The algorithm, in brief. The state is four vectors of four u64 lanes:
 *
 *     v0, v1, mul0, mul1        (lane i of each works on bytes 8i..8i+7
 *                                of every 32-byte packet)
 *
 * reset(key):  mul0 = INIT0, mul1 = INIT1,
 *              v0 = INIT0 ^ key, v1 = INIT1 ^ rot32(key)
 * update(p):   v1 += mul0 + p
 *              mul0 ^= lo32(v1) * hi32(v0)       (32x32->64 per lane)
 *              v0 += mul1
 *              mul1 ^= lo32(v0) * hi32(v1)
 *              v0 += zipper(v1);  v1 += zipper(v0)
 * finish:      absorb the 1..31 byte tail as one padded packet, then run
 *              4/6/10 rounds of update(permute(v0)) for 64/128/256 bits.
 *
 * Both kernels compute identical results; tests compare them directly.
 */
#include "hh.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HH_HAVE_AVX2 1
#include <immintrin.h>
#else
#define HH_HAVE_AVX2 0
#endif

/* First digits of pi, as the published algorithm specifies. */
static const uint64_t INIT0[4] = {0xdbe6d5d5fe4cce2full, 0xa4093822299f31d0ull,
                                  0x13198a2e03707344ull, 0x243f6a8885a308d3ull};
static const uint64_t INIT1[4] = {0x3bd39e10cb0ef593ull, 0xc0acf169b5f18a8cull,
                                  0xbe5466cf34e90c6cull, 0x452821e638d01377ull};

/* Permute-and-update rounds before output, by digest size. */
static int finish_rounds(int digest_size) {
    return digest_size == 8 ? 4 : digest_size == 16 ? 6 : 10;
}

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

static inline void store_le64(uint8_t *p, uint64_t x) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    memcpy(p, &x, 8);
}

static inline uint64_t rot32(uint64_t x) { return (x >> 32) | (x << 32); }

/* ------------------------------------------------------------------ */
/* Shared pieces: tail packet and output reduction (scalar, tiny).     */

/* The tail of n (1..31) bytes becomes one zero-padded packet:
 *
 *   n & 16 set:   [ whole 4-byte words of the tail ... | last 4 bytes @28 ]
 *   otherwise:    [ whole 4-byte words | @16: r[0] r[k/2] r[k-1] ]
 *                 where r is the k = n % 4 leftover bytes (if any)
 *
 * The leftover-byte trick reads 1..3 bytes without a length-dependent loop;
 * the length itself enters the state separately (see tail_tweak). */
static void tail_packet(const uint8_t *tail, size_t n, uint8_t packet[HH_PACKET_SIZE]) {
    size_t words = n & ~(size_t)3, k = n & 3;
    memset(packet, 0, HH_PACKET_SIZE);
    memcpy(packet, tail, words);
    if (n & 16) {
        memcpy(packet + 28, tail + n - 4, 4);
    } else if (k) {
        const uint8_t *r = tail + words;
        packet[16] = r[0];
        packet[17] = r[k >> 1];
        packet[18] = r[k - 1];
    }
}

/* 256-bit output: each 128-bit half (a3:a2 : a1:a0) is reduced to 128 bits
 * (m1:m0) modulo an irreducible polynomial; top two bits of a3 dropped. */
static void reduce128(uint64_t a3, uint64_t a2, uint64_t a1, uint64_t a0, uint64_t *m1,
                      uint64_t *m0) {
    a3 &= 0x3fffffffffffffffull;
    *m1 = a1 ^ ((a3 << 1) | (a2 >> 63)) ^ ((a3 << 2) | (a2 >> 62));
    *m0 = a0 ^ (a2 << 1) ^ (a2 << 2);
}

static void write_digest(const hh_state *s, int digest_size, uint8_t *out) {
    if (digest_size == 8) {
        store_le64(out, s->v0[0] + s->v1[0] + s->mul0[0] + s->mul1[0]);
    } else if (digest_size == 16) {
        store_le64(out, s->v0[0] + s->mul0[0] + s->v1[2] + s->mul1[2]);
        store_le64(out + 8, s->v0[1] + s->mul0[1] + s->v1[3] + s->mul1[3]);
    } else {
        uint64_t h[4];
        reduce128(s->v1[1] + s->mul1[1], s->v1[0] + s->mul1[0], s->v0[1] + s->mul0[1],
                  s->v0[0] + s->mul0[0], &h[1], &h[0]);
        reduce128(s->v1[3] + s->mul1[3], s->v1[2] + s->mul1[2], s->v0[3] + s->mul0[3],
                  s->v0[2] + s->mul0[2], &h[3], &h[2]);
        for (int i = 0; i < 4; i++) store_le64(out + 8 * i, h[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Portable kernel.                                                    */

/* The zipper merge of a lane pair (lo = lane 2i, hi = lane 2i+1), seen as
 * 16 bytes src[0..15] (lo bytes first): output byte j = src[ZIP[j]] with
 *
 *   ZIP = { 3, 12, 2, 5, 14, 1, 15, 0,   11, 4, 10, 13, 9, 6, 8, 7 }
 *          \______ new lo lane _____/    \______ new hi lane ______/
 *
 * It spreads the bytes the multiplies mixed best into the positions they
 * feed next. The AVX2 kernel uses the same table as a pshufb mask. */
#define MOVE(x, from, to) ((((x) >> (8 * (from))) & 0xffull) << (8 * (to)))

static inline void zipper_add(uint64_t lo, uint64_t hi, uint64_t *add_lo, uint64_t *add_hi) {
    *add_lo += MOVE(lo, 3, 0) | MOVE(hi, 4, 1) | MOVE(lo, 2, 2) | MOVE(lo, 5, 3) |
               MOVE(hi, 6, 4) | MOVE(lo, 1, 5) | MOVE(hi, 7, 6) | MOVE(lo, 0, 7);
    *add_hi += MOVE(hi, 3, 0) | MOVE(lo, 4, 1) | MOVE(hi, 2, 2) | MOVE(hi, 5, 3) |
               MOVE(hi, 1, 4) | MOVE(lo, 6, 5) | MOVE(hi, 0, 6) | MOVE(lo, 7, 7);
}

static inline void pt_update(hh_state *s, const uint64_t p[4]) {
    for (int i = 0; i < 4; i++) {
        s->v1[i] += s->mul0[i] + p[i];
        s->mul0[i] ^= (s->v1[i] & 0xffffffffull) * (s->v0[i] >> 32);
        s->v0[i] += s->mul1[i];
        s->mul1[i] ^= (s->v0[i] & 0xffffffffull) * (s->v1[i] >> 32);
    }
    zipper_add(s->v1[0], s->v1[1], &s->v0[0], &s->v0[1]);
    zipper_add(s->v1[2], s->v1[3], &s->v0[2], &s->v0[3]);
    zipper_add(s->v0[0], s->v0[1], &s->v1[0], &s->v1[1]);
    zipper_add(s->v0[2], s->v0[3], &s->v1[2], &s->v1[3]);
}

static void pt_update_packets(hh_state *state, const uint8_t *data, size_t npackets) {
    /* PERF: work on a local copy; byte loads from data may alias *state,
     * which would force the compiler to reload the state every packet. */
    hh_state s = *state;
    uint64_t p[4];
    for (size_t n = 0; n < npackets; n++, data += HH_PACKET_SIZE) {
        for (int i = 0; i < 4; i++) p[i] = load_le64(data + 8 * i);
        pt_update(&s, p);
    }
    *state = s;
}

static void pt_finish(hh_state *s, const uint8_t *tail, size_t ntail, int rounds) {
    uint64_t p[4];
    if (ntail) {
        uint8_t packet[HH_PACKET_SIZE];
        uint32_t c = (uint32_t)ntail;
        tail_packet(tail, ntail, packet);
        for (int i = 0; i < 4; i++) {
            /* The tail length enters v0 and rotates both 32-bit halves of v1,
             * so tails differing only in zero padding hash differently. */
            s->v0[i] += ((uint64_t)c << 32) + c;
            uint32_t lo = (uint32_t)s->v1[i], hi = (uint32_t)(s->v1[i] >> 32);
            lo = (lo << c) | (lo >> (32 - c));
            hi = (hi << c) | (hi >> (32 - c));
            s->v1[i] = ((uint64_t)hi << 32) | lo;
            p[i] = load_le64(packet + 8 * i);
        }
        pt_update(s, p);
    }
    for (int r = 0; r < rounds; r++) {
        p[0] = rot32(s->v0[2]);
        p[1] = rot32(s->v0[3]);
        p[2] = rot32(s->v0[0]);
        p[3] = rot32(s->v0[1]);
        pt_update(s, p);
    }
}

/* ------------------------------------------------------------------ */
/* AVX2 kernel: one ymm register per state vector. Compiled for AVX2 via a
 * target attribute only, so the rest of the file stays baseline x86-64. */
#if HH_HAVE_AVX2
#define HH_AVX2 __attribute__((target("avx2")))

typedef struct {
    __m256i v0, v1, mul0, mul1;
} avx_state;

static inline HH_AVX2 avx_state avx_load(const hh_state *s) {
    avx_state a;
    a.v0 = _mm256_loadu_si256((const __m256i *)s->v0);
    a.v1 = _mm256_loadu_si256((const __m256i *)s->v1);
    a.mul0 = _mm256_loadu_si256((const __m256i *)s->mul0);
    a.mul1 = _mm256_loadu_si256((const __m256i *)s->mul1);
    return a;
}

static inline HH_AVX2 void avx_store(hh_state *s, const avx_state *a) {
    _mm256_storeu_si256((__m256i *)s->v0, a->v0);
    _mm256_storeu_si256((__m256i *)s->v1, a->v1);
    _mm256_storeu_si256((__m256i *)s->mul0, a->mul0);
    _mm256_storeu_si256((__m256i *)s->mul1, a->mul1);
}

/* ZIP (see the portable kernel) for both 128-bit halves: pshufb works
 * within each half, which is exactly one lane pair. */
static inline HH_AVX2 __m256i avx_zip_mask(void) {
    return _mm256_setr_epi8(3, 12, 2, 5, 14, 1, 15, 0, 11, 4, 10, 13, 9, 6, 8, 7,
                            3, 12, 2, 5, 14, 1, 15, 0, 11, 4, 10, 13, 9, 6, 8, 7);
}

static inline HH_AVX2 void avx_update(avx_state *a, __m256i p, __m256i zip) {
    /* PERF: mul0 is the last input to arrive (multiply latency), so it is
     * added last; addition order does not change the sum. */
    a->v1 = _mm256_add_epi64(_mm256_add_epi64(a->v1, p), a->mul0);
    a->mul0 = _mm256_xor_si256(a->mul0, _mm256_mul_epu32(a->v1, _mm256_srli_epi64(a->v0, 32)));
    a->v0 = _mm256_add_epi64(a->v0, a->mul1);
    a->mul1 = _mm256_xor_si256(a->mul1, _mm256_mul_epu32(a->v0, _mm256_srli_epi64(a->v1, 32)));
    a->v0 = _mm256_add_epi64(a->v0, _mm256_shuffle_epi8(a->v1, zip));
    a->v1 = _mm256_add_epi64(a->v1, _mm256_shuffle_epi8(a->v0, zip));
}

static HH_AVX2 void avx_update_packets(hh_state *state, const uint8_t *data, size_t npackets) {
    avx_state a = avx_load(state);
    const __m256i zip = avx_zip_mask();
    for (size_t n = 0; n < npackets; n++, data += HH_PACKET_SIZE)
        avx_update(&a, _mm256_loadu_si256((const __m256i *)data), zip);
    avx_store(state, &a);
}

static HH_AVX2 void avx_finish(hh_state *s, const uint8_t *tail, size_t ntail, int rounds) {
    avx_state a = avx_load(s);
    const __m256i zip = avx_zip_mask();
    if (ntail) {
        uint8_t packet[HH_PACKET_SIZE];
        uint64_t c = ntail;
        tail_packet(tail, ntail, packet);
        a.v0 = _mm256_add_epi64(a.v0, _mm256_set1_epi64x((long long)((c << 32) + c)));
        /* Rotate every 32-bit half of v1 left by c (1..31). */
        __m128i left = _mm_cvtsi32_si128((int)c), right = _mm_cvtsi32_si128((int)(32 - c));
        a.v1 = _mm256_or_si256(_mm256_sll_epi32(a.v1, left), _mm256_srl_epi32(a.v1, right));
        avx_update(&a, _mm256_loadu_si256((const __m256i *)packet), zip);
    }
    /* permute(v0) = rot32 of lanes (2, 3, 0, 1): one cross-lane dword shuffle. */
    const __m256i perm = _mm256_setr_epi32(5, 4, 7, 6, 1, 0, 3, 2);
    for (int r = 0; r < rounds; r++)
        avx_update(&a, _mm256_permutevar8x32_epi32(a.v0, perm), zip);
    avx_store(s, &a);
}
#endif /* HH_HAVE_AVX2 */

/* ------------------------------------------------------------------ */
/* Dispatch.                                                           */

typedef struct hh_kernel {
    int id;
    void (*update_packets)(hh_state *, const uint8_t *, size_t);
    void (*finish)(hh_state *, const uint8_t *, size_t, int);
} hh_kernel;

static const hh_kernel PORTABLE = {HH_IMPL_PORTABLE, pt_update_packets, pt_finish};
#if HH_HAVE_AVX2
static const hh_kernel AVX2 = {HH_IMPL_AVX2, avx_update_packets, avx_finish};
#endif

/* Starts portable (always correct); the constructor below upgrades it. */
static const hh_kernel *active = &PORTABLE;

int hh_cpu_has_avx2(void) {
#if HH_HAVE_AVX2
    __builtin_cpu_init(); /* needed when called before libgcc's constructor */
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

int hh_set_impl(int impl) {
    if (impl == HH_IMPL_AUTO) impl = hh_cpu_has_avx2() ? HH_IMPL_AVX2 : HH_IMPL_PORTABLE;
    if (impl == HH_IMPL_PORTABLE) {
        active = &PORTABLE;
        return 0;
    }
#if HH_HAVE_AVX2
    if (impl == HH_IMPL_AVX2 && hh_cpu_has_avx2()) {
        active = &AVX2;
        return 0;
    }
#endif
    return -1;
}

int hh_get_impl(void) { return active->id; }

__attribute__((constructor)) static void hh_pick_kernel(void) { hh_set_impl(HH_IMPL_AUTO); }

/* ------------------------------------------------------------------ */
/* Public layers.                                                      */

void hh_reset(hh_state *s, const uint8_t key[HH_KEY_SIZE]) {
    for (int i = 0; i < 4; i++) {
        uint64_t k = load_le64(key + 8 * i);
        s->mul0[i] = INIT0[i];
        s->mul1[i] = INIT1[i];
        s->v0[i] = INIT0[i] ^ k;
        s->v1[i] = INIT1[i] ^ rot32(k);
    }
}

void hh_update_packets(hh_state *s, const uint8_t *data, size_t npackets) {
    if (npackets) active->update_packets(s, data, npackets);
}

void hh_finish(hh_state *s, const uint8_t *tail, size_t ntail, int digest_size, uint8_t *out) {
    active->finish(s, tail, ntail, finish_rounds(digest_size));
    write_digest(s, digest_size, out);
}

void hh_stream_reset(hh_stream *st, const uint8_t key[HH_KEY_SIZE]) {
    hh_reset(&st->state, key);
    st->npending = 0;
}

void hh_stream_update(hh_stream *st, const uint8_t *data, size_t len) {
    if (st->npending) {
        size_t take = HH_PACKET_SIZE - st->npending;
        if (take > len) take = len;
        memcpy(st->pending + st->npending, data, take);
        st->npending += take;
        data += take;
        len -= take;
        if (st->npending < HH_PACKET_SIZE) return;
        hh_update_packets(&st->state, st->pending, 1);
        st->npending = 0;
    }
    size_t whole = len / HH_PACKET_SIZE;
    hh_update_packets(&st->state, data, whole);
    data += whole * HH_PACKET_SIZE;
    len -= whole * HH_PACKET_SIZE;
    if (len) memcpy(st->pending, data, len);
    st->npending = len;
}

void hh_stream_digest(const hh_stream *st, int digest_size, uint8_t *out) {
    hh_state s = st->state;
    hh_finish(&s, st->pending, st->npending, digest_size, out);
}

/* Hash data into out, starting from an already-keyed state (copied). */
static void hash_from(const hh_state *keyed, const uint8_t *data, size_t len, int digest_size,
                      uint8_t *out) {
    hh_state s = *keyed;
    size_t whole = len / HH_PACKET_SIZE;
    hh_update_packets(&s, data, whole);
    hh_finish(&s, data + whole * HH_PACKET_SIZE, len % HH_PACKET_SIZE, digest_size, out);
}

void hh_hash(const uint8_t key[HH_KEY_SIZE], const uint8_t *data, size_t len, int digest_size,
             uint8_t *out) {
    hh_state keyed;
    hh_reset(&keyed, key);
    hash_from(&keyed, data, len, digest_size, out);
}

void hh_hash_many(const uint8_t key[HH_KEY_SIZE], const uint8_t *const *data, const size_t *lens,
                  size_t n, int digest_size, uint8_t *const *outs) {
    hh_state keyed;
    hh_reset(&keyed, key);
    for (size_t i = 0; i < n; i++) hash_from(&keyed, data[i], lens[i], digest_size, outs[i]);
}

size_t hh_verify_many(const uint8_t key[HH_KEY_SIZE], const uint8_t *const *data,
                      const size_t *lens, size_t n, int digest_size,
                      const uint8_t *const *expected, uint8_t *bad) {
    hh_state keyed;
    uint8_t got[32];
    size_t nbad = 0;
    hh_reset(&keyed, key);
    for (size_t i = 0; i < n; i++) {
        hash_from(&keyed, data[i], lens[i], digest_size, got);
        bad[i] = memcmp(got, expected[i], (size_t)digest_size) != 0;
        nbad += bad[i];
    }
    return nbad;
}
