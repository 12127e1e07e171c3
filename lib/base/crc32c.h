/* crc32c.h - CRC-32C (Castagnoli), the checksum that closes every frame.
 * Uses the SSE4.2 instruction when the CPU has it, a table otherwise. */
#ifndef LS_CRC32C_H
#define LS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0. */
uint32_t ls_crc32c(uint32_t crc, const void *buf, size_t n);

#endif
