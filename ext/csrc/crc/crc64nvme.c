/*
 * CRC-64/NVME: carry-less-multiply folding with a slicing-by-8 fallback.
 *
 * Notation. Data is a polynomial over GF(2); a message of n bytes is M(x) of
 * degree < 8n whose first byte's bit 0 is the highest coefficient x^(8n-1)
 * ("reflected" bit order). The CRC register after a message is
 *
 *     reg(M, c) = c * x^(8n) + M * x^64  (mod P)
 *
 * and the CRC is ~reg(M, ~crc_in). Because c * x^(8n) = (c * x^(8n-64)) * x^64,
 * the incoming register can simply be XORed into the first 8 message bytes.
 *
 * Folding. A 16-byte block loaded little-endian into an XMM register holds
 * a degree < 128 polynomial A = H * x^64 + L:
 *
 *     byte:  0 ...  7 | 8 ... 15
 *     qword: low = H  | high = L        (bit 0 of the low qword is x^127)
 *
 * Moving A forward by D bits (D = distance to the block it is added to):
 *
 *     A * x^D = H * x^(D+64) + L * x^D  ==  H * k_hi + L * k_lo  (mod P)
 *
 * with k_hi = x^(D+64) mod P and k_lo = x^D mod P, both degree < 64, so each
 * product has degree < 127 and fits one PCLMULQDQ result. In reflected bit
 * order PCLMULQDQ of two 64-bit operands yields a*b*x (the 127-bit product
 * lands one position up in the 128-bit register), so the stored constants are
 * x^(D+63) and x^(D-1) instead. Eight independent lanes of 16 bytes are folded
 * by D = 1024 bits per round (throughput-bound on PCLMULQDQ rather than
 * latency-bound), then merged into one lane (lane i moves by 128*(7-i) bits),
 * remaining whole blocks fold by D = 128, and the last 16-byte accumulator
 * plus the under-16-byte tail go through the table path from a zero register,
 * which reduces them mod P.
 *
 * Every constant is computed from the polynomial at first use; nothing here
 * is a pasted magic number except the polynomial itself.
 */
#include "crc64nvme.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC64_HAVE_CLMUL 1
#include <immintrin.h>
#else
#define CRC64_HAVE_CLMUL 0
#endif

/* x^64 + ... in normal (MSB = x^63) order; x^64 is implicit. */
#define POLY_NORMAL 0xAD93D23594C93659ULL

/* Below this many bytes the table path wins over setting up the folding. */
#define CLMUL_MIN_LEN 64

enum { LANES = 8 };

static uint64_t poly_reflected;
/* tables[k][b]: register contribution of byte b followed by k zero bytes. */
static uint64_t tables[8][256];
/* fold_k[j] = {refl(x^(128j+63) mod P), refl(x^(128j-1) mod P)}: moves a block
   forward by j blocks of 16 bytes. Index 0 is unused. */
static uint64_t fold_k[LANES + 1][2];
static int use_clmul;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static uint64_t reflect64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

/* x^n mod P in normal order, one multiplication by x at a time (init only). */
static uint64_t xpow_mod_normal(unsigned n)
{
    uint64_t r = 1;
    while (n--)
        r = (r << 1) ^ ((r >> 63) ? POLY_NORMAL : 0);
    return r;
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Raw register update (no inversion): the portable path and every tail. */
static uint64_t table_update(uint64_t c, const unsigned char *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        c = tables[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        c ^= load_le64(p);
        c = tables[7][c & 0xff] ^ tables[6][(c >> 8) & 0xff] ^
            tables[5][(c >> 16) & 0xff] ^ tables[4][(c >> 24) & 0xff] ^
            tables[3][(c >> 32) & 0xff] ^ tables[2][(c >> 40) & 0xff] ^
            tables[1][(c >> 48) & 0xff] ^ tables[0][c >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = tables[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if CRC64_HAVE_CLMUL

#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

/* a * x^D folded onto b: the two halves times the D-constants, XORed in. */
CLMUL_TARGET static inline __m128i fold_into(__m128i a, __m128i k, __m128i b)
{
    __m128i hi = _mm_clmulepi64_si128(a, k, 0x00); /* H * x^(D+63) */
    __m128i lo = _mm_clmulepi64_si128(a, k, 0x11); /* L * x^(D-1)  */
    return _mm_xor_si128(b, _mm_xor_si128(hi, lo));
}

CLMUL_TARGET static inline __m128i fold_const(int blocks)
{
    return _mm_set_epi64x((long long)fold_k[blocks][1], (long long)fold_k[blocks][0]);
}

/* Raw register update over len >= 16 bytes. */
CLMUL_TARGET static uint64_t clmul_update(uint64_t c, const unsigned char *p, size_t len)
{
    __m128i acc;
    const __m128i k1 = fold_const(1);

    if (len >= 16 * LANES) {
        const __m128i k8 = fold_const(LANES);
        __m128i x[LANES];
        for (int i = 0; i < LANES; i++)
            x[i] = _mm_loadu_si128((const __m128i *)(p + 16 * i));
        x[0] = _mm_xor_si128(x[0], _mm_cvtsi64_si128((long long)c));
        p += 16 * LANES;
        len -= 16 * LANES;

        while (len >= 16 * LANES) {
            for (int i = 0; i < LANES; i++)
                x[i] = fold_into(x[i], k8, _mm_loadu_si128((const __m128i *)(p + 16 * i)));
            p += 16 * LANES;
            len -= 16 * LANES;
        }

        /* Merge: lane i sits 7 - i blocks before the last lane. */
        acc = x[LANES - 1];
        for (int i = 0; i < LANES - 1; i++)
            acc = fold_into(x[i], fold_const(LANES - 1 - i), acc);
    } else {
        acc = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi64_si128((long long)c));
        p += 16;
        len -= 16;
    }

    while (len >= 16) {
        acc = fold_into(acc, k1, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }

    /* Reduce: the accumulator is 16 message bytes now; run it and the tail
       through the tables from a zero register. */
    unsigned char last[16];
    _mm_storeu_si128((__m128i *)last, acc);
    c = table_update(0, last, 16);
    return table_update(c, p, len);
}

static int cpu_has_clmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

#endif /* CRC64_HAVE_CLMUL */

static void init_tables(void)
{
    poly_reflected = reflect64(POLY_NORMAL);

    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ ((c & 1) ? poly_reflected : 0);
        tables[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (unsigned b = 0; b < 256; b++)
            tables[k][b] = (tables[k - 1][b] >> 8) ^ tables[0][tables[k - 1][b] & 0xff];

    for (unsigned j = 1; j <= LANES; j++) {
        fold_k[j][0] = reflect64(xpow_mod_normal(128 * j + 63));
        fold_k[j][1] = reflect64(xpow_mod_normal(128 * j - 1));
    }

#if CRC64_HAVE_CLMUL
    use_clmul = cpu_has_clmul();
#else
    use_clmul = 0;
#endif
}

uint64_t crc64nvme(uint64_t crc, const void *buf, size_t len)
{
    pthread_once(&init_once, init_tables);
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t c = ~crc;
#if CRC64_HAVE_CLMUL
    if (use_clmul && len >= CLMUL_MIN_LEN)
        return ~clmul_update(c, p, len);
#endif
    return ~table_update(c, p, len);
}

uint64_t crc64nvme_portable(uint64_t crc, const void *buf, size_t len)
{
    pthread_once(&init_once, init_tables);
    return ~table_update(~crc, (const unsigned char *)buf, len);
}

int crc64nvme_uses_clmul(void)
{
    pthread_once(&init_once, init_tables);
    return use_clmul;
}
