/*
 * A reflected-CRC engine for any width from 8 to 64 bits: carry-less-multiply
 * folding (PCLMULQDQ, chosen at run time) with a slicing-by-8 table path for
 * other CPUs, short inputs and tails.
 *
 * A model is filled once from its polynomial by crc_fold_model_init() and is
 * read-only afterwards; every function here then works on the raw register
 * (no pre/post inversion, no locking), so callers choose the conventions and
 * may run without the GIL. crc_models.h builds the named CRCs on top.
 */
#ifndef LITEIO_CRC_FOLD_H
#define LITEIO_CRC_FOLD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of 16 bytes folded in parallel by the main loop. */
#define CRC_FOLD_LANES 8

/* Shortest input crc_fold_clmul() accepts. */
#define CRC_FOLD_CLMUL_MIN 16

struct crc_fold_model {
    unsigned width;        /* register width in bits, 8..64 */
    uint64_t poly;         /* reflected polynomial without x^width */
    int use_clmul;         /* the CPU runs crc_fold_clmul() */
    /* table[k][b]: the register after byte b followed by k zero bytes. */
    uint64_t table[8][256];
    /* fold_k[j]: the two constants that move a 16-byte block forward by j
       blocks (see crc_fold.c). Index 0 is unused. */
    uint64_t fold_k[CRC_FOLD_LANES + 1][2];
};

/*
 * Fill m for the CRC with the given reflected polynomial (the x^width term
 * left out, x^0 in the top bit of the width) and detect PCLMULQDQ.
 * Not thread-safe: run it once, e.g. under pthread_once().
 */
void crc_fold_model_init(struct crc_fold_model *m, uint64_t poly_reflected, unsigned width);

/* 1 when this CPU can run crc_fold_clmul() (PCLMULQDQ and SSE4.1), else 0. */
int crc_fold_cpu_has_clmul(void);

/* Register after buf[0:len] from register reg, by table lookups only. */
uint64_t crc_fold_table(const struct crc_fold_model *m, uint64_t reg, const void *buf,
                        size_t len);

/*
 * The same by PCLMULQDQ folding. Only when m->use_clmul is set and
 * len >= CRC_FOLD_CLMUL_MIN.
 */
uint64_t crc_fold_clmul(const struct crc_fold_model *m, uint64_t reg, const void *buf,
                        size_t len);

#ifdef __cplusplus
}
#endif

#endif /* LITEIO_CRC_FOLD_H */
