/*
 * Reflected CRCs of width w (8..64): PCLMULQDQ folding and slicing-by-8.
 *
 * Notation. Data is a polynomial over GF(2); a message of n bytes is M(x) of
 * degree < 8n whose first byte's bit 0 is the highest coefficient x^(8n-1)
 * ("reflected" bit order). A w-bit register holds a polynomial of degree < w
 * with x^(w-1) in bit 0 and x^0 in bit w-1. After the message,
 *
 *     reg(M, c) = c * x^(8n) + M * x^w  (mod P)
 *
 * Since c * x^(8n) = (c * x^(8n-w)) * x^w, an incoming register is the same
 * as XORing c into the first w bits of the message (when 8n >= w).
 *
 * Folding. A 16-byte block loaded little-endian into an XMM register is a
 * degree < 128 polynomial A = H * x^64 + L:
 *
 *     byte:  0 ...  7 | 8 ... 15
 *     qword: low = H  | high = L        (bit 0 of the low qword is x^127)
 *
 * Adding A into the block D bits further on needs A * x^D, and mod P
 *
 *     A * x^D = H * x^(D+64) + L * x^D  ==  H * k_hi + L * k_lo
 *
 * with k_hi = x^(D+64) mod P and k_lo = x^D mod P, both of degree < w <= 64.
 * Each product has degree < 127, so it fits one PCLMULQDQ result and nothing
 * has to be reduced inside the loop: the accumulator only stays congruent to
 * the message mod P, whatever the width. Held as 64-bit reflected operands
 * (x^63 in bit 0), PCLMULQDQ returns a*b*x: the 127-bit product lands one
 * bit up in the 128-bit register. So the constants are stored as
 * x^(D+63) and x^(D-1), a w-bit register value shifted left by 64 - w.
 *
 * The main loop folds CRC_FOLD_LANES independent blocks by D = 128 * LANES
 * per round, so it is bound by PCLMULQDQ throughput rather than its latency.
 * The lanes then merge into one (lane i moves by 128 * (LANES-1-i) bits),
 * whole blocks left over fold by D = 128, and so does a last partial block
 * (its leading bytes, shifted out of the accumulator, fold onto the final
 * 16 bytes of input). The last 16-byte accumulator then runs through the
 * table path from a zero register, which is what reduces it mod P.
 *
 * Every constant and table entry comes from the polynomial at init; there
 * are no magic numbers here.
 */
#include "crc_fold.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_FOLD_HAVE_CLMUL 1
#include <immintrin.h>
#else
#define CRC_FOLD_HAVE_CLMUL 0
#endif

/* x^n mod P as a w-bit reflected register, one multiplication by x at a time. */
static uint64_t xpow_mod(const struct crc_fold_model *m, unsigned n)
{
    uint64_t r = (uint64_t)1 << (m->width - 1); /* x^0 */
    while (n--)
        r = (r >> 1) ^ ((r & 1) ? m->poly : 0);
    return r;
}

/* x^n mod P as a PCLMULQDQ operand: x^63 in bit 0, x^0 in bit 63. */
static uint64_t clmul_operand(const struct crc_fold_model *m, unsigned n)
{
    return xpow_mod(m, n) << (64 - m->width);
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

uint64_t crc_fold_table(const struct crc_fold_model *m, uint64_t c, const void *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    const uint64_t(*t)[256] = m->table;

    /* Eight bytes at a time: byte i of (register ^ message) is followed by
       7 - i more bytes, so its contribution is t[7 - i]. */
    while (len >= 8) {
        c ^= load_le64(p);
        c = t[7][c & 0xff] ^ t[6][(c >> 8) & 0xff] ^ t[5][(c >> 16) & 0xff] ^
            t[4][(c >> 24) & 0xff] ^ t[3][(c >> 32) & 0xff] ^ t[2][(c >> 40) & 0xff] ^
            t[1][(c >> 48) & 0xff] ^ t[0][c >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if CRC_FOLD_HAVE_CLMUL

#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

/* a * x^D added into b, with k holding D's two constants. */
CLMUL_TARGET static inline __m128i fold_into(__m128i a, __m128i k, __m128i b)
{
    __m128i hi = _mm_clmulepi64_si128(a, k, 0x00); /* H * x^(D+63) */
    __m128i lo = _mm_clmulepi64_si128(a, k, 0x11); /* L * x^(D-1)  */
    return _mm_xor_si128(b, _mm_xor_si128(hi, lo));
}

CLMUL_TARGET static inline __m128i fold_const(const struct crc_fold_model *m, int blocks)
{
    return _mm_set_epi64x((long long)m->fold_k[blocks][1], (long long)m->fold_k[blocks][0]);
}

/*
 * PSHUFB controls: 16 bytes from shift_ctl + 16 + n move a block's bytes n
 * places toward its start (down), from shift_ctl + 16 - n n places toward
 * its end (up). 0x80 selects a zero byte; its top bit also makes the control
 * a PBLENDVB mask of the bytes an up-shift leaves empty.
 */
static const unsigned char shift_ctl[48] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};

CLMUL_TARGET static inline __m128i load_block(const unsigned char *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

CLMUL_TARGET uint64_t crc_fold_clmul(const struct crc_fold_model *m, uint64_t c, const void *buf,
                                     size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    const __m128i k1 = fold_const(m, 1);
    const __m128i reg = _mm_cvtsi64_si128((long long)c);
    __m128i acc;

    if (len >= 16 * CRC_FOLD_LANES) {
        const __m128i kl = fold_const(m, CRC_FOLD_LANES);
        __m128i x[CRC_FOLD_LANES];
        for (int i = 0; i < CRC_FOLD_LANES; i++)
            x[i] = load_block(p + 16 * i);
        x[0] = _mm_xor_si128(x[0], reg);
        p += 16 * CRC_FOLD_LANES;
        len -= 16 * CRC_FOLD_LANES;

        while (len >= 16 * CRC_FOLD_LANES) {
            for (int i = 0; i < CRC_FOLD_LANES; i++)
                x[i] = fold_into(x[i], kl, load_block(p + 16 * i));
            p += 16 * CRC_FOLD_LANES;
            len -= 16 * CRC_FOLD_LANES;
        }

        acc = x[CRC_FOLD_LANES - 1];
        for (int i = 0; i < CRC_FOLD_LANES - 1; i++)
            acc = fold_into(x[i], fold_const(m, CRC_FOLD_LANES - 1 - i), acc);
    } else {
        acc = _mm_xor_si128(load_block(p), reg);
        p += 16;
        len -= 16;
    }

    while (len >= 16) {
        acc = fold_into(acc, k1, load_block(p));
        p += 16;
        len -= 16;
    }

    if (len) {
        /* 1..15 bytes left. The message ends acc[0:len] | acc[len:16] | tail:
           fold the first part (as a block ending in it) onto the last 16
           bytes. The tail is read from one load ending at the input's end. */
        const __m128i up = _mm_loadu_si128((const __m128i *)(shift_ctl + len));
        const __m128i down = _mm_loadu_si128((const __m128i *)(shift_ctl + 16 + len));
        __m128i head = _mm_shuffle_epi8(acc, up);
        __m128i body = _mm_blendv_epi8(load_block(p + len - 16), _mm_shuffle_epi8(acc, down), up);
        acc = fold_into(head, k1, body);
    }

    /* Reduce mod P: the register after these 16 bytes from a zero register. */
    unsigned char last[16];
    _mm_storeu_si128((__m128i *)last, acc);
    return crc_fold_table(m, 0, last, 16);
}

int crc_fold_cpu_has_clmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

#else /* !CRC_FOLD_HAVE_CLMUL */

uint64_t crc_fold_clmul(const struct crc_fold_model *m, uint64_t c, const void *buf, size_t len)
{
    return crc_fold_table(m, c, buf, len); /* never chosen: use_clmul is 0 */
}

int crc_fold_cpu_has_clmul(void)
{
    return 0;
}

#endif /* CRC_FOLD_HAVE_CLMUL */

void crc_fold_model_init(struct crc_fold_model *m, uint64_t poly_reflected, unsigned width)
{
    m->width = width;
    m->poly = poly_reflected;

    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ ((c & 1) ? m->poly : 0);
        m->table[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (unsigned b = 0; b < 256; b++)
            m->table[k][b] = (m->table[k - 1][b] >> 8) ^ m->table[0][m->table[k - 1][b] & 0xff];

    for (unsigned j = 1; j <= CRC_FOLD_LANES; j++) {
        m->fold_k[j][0] = clmul_operand(m, 128 * j + 63);
        m->fold_k[j][1] = clmul_operand(m, 128 * j - 1);
    }

    m->use_clmul = crc_fold_cpu_has_clmul();
}
