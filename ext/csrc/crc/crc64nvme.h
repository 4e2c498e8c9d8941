/*
 * CRC-64/NVME, the CRC behind S3's x-amz-checksum-crc64nvme.
 *
 *   width 64, poly 0xAD93D23594C93659 (reflected: 0x9A6C9329AC4BC9B5),
 *   init ~0, refin/refout true, xorout ~0, check("123456789") 0xAE8B14860A799888
 *
 * ISA-L (2.30) has no CRC with this polynomial, so it lives here: PCLMULQDQ
 * folding where the CPU has it (picked at run time), slicing-by-8 tables
 * otherwise and for short inputs. All functions are thread-safe, allocate
 * nothing and never touch Python state, so callers may run them without the GIL.
 */
#ifndef LITEIO_CRC64NVME_H
#define LITEIO_CRC64NVME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * CRC of buf[0:len] continuing from crc, zlib style: start with 0, and
 * crc64nvme(crc64nvme(0, a, na), b, nb) == CRC of a followed by b.
 */
uint64_t crc64nvme(uint64_t crc, const void *buf, size_t len);

/* The same result from the table-driven path only (for tests and benchmarks). */
uint64_t crc64nvme_portable(uint64_t crc, const void *buf, size_t len);

/* 1 when crc64nvme() uses the PCLMULQDQ folding path on this CPU, else 0. */
int crc64nvme_uses_clmul(void);

#ifdef __cplusplus
}
#endif

#endif /* LITEIO_CRC64NVME_H */
