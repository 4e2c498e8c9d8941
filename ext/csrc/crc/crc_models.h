/*
 * The reflected CRCs of S3's flexible checksums, on the crc_fold.h engine:
 *
 *   name        width  poly (normal / reflected)         check("123456789")
 *   CRC-32      32     0x04C11DB7 / 0xEDB88320           0xCBF43926
 *   CRC-32C     32     0x1EDC6F41 / 0x82F63B78           0xE3069283
 *   CRC-64/NVME 64     0xAD93D23594C93659                0xAE8B14860A799888
 *                      / 0x9A6C9329AC4BC9B5
 *
 * All have init = xorout = all ones and refin = refout = true. Every function
 * chains zlib style: start with 0, and f(f(0, a, na), b, nb) is the CRC of a
 * followed by b. They are thread-safe (tables are built on first use under
 * pthread_once), allocate nothing and never touch Python state.
 *
 * liteio_crc*() fold with PCLMULQDQ when the CPU has it and the input is long
 * enough, and use the tables otherwise; *_portable() always use the tables
 * (for tests and benchmarks). ISA-L also has CRC-32 and CRC-32C; crc.pyx picks
 * between it and these.
 */
#ifndef LITEIO_CRC_MODELS_H
#define LITEIO_CRC_MODELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint64_t liteio_crc64nvme(uint64_t crc, const void *buf, size_t len);
uint64_t liteio_crc64nvme_portable(uint64_t crc, const void *buf, size_t len);

uint32_t liteio_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t liteio_crc32c_portable(uint32_t crc, const void *buf, size_t len);

uint32_t liteio_crc32(uint32_t crc, const void *buf, size_t len);
uint32_t liteio_crc32_portable(uint32_t crc, const void *buf, size_t len);

/* 1 when liteio_crc*() use the PCLMULQDQ folding path on this CPU, else 0. */
int liteio_crc_uses_clmul(void);

#ifdef __cplusplus
}
#endif

#endif /* LITEIO_CRC_MODELS_H */
