// SPDX-License-Identifier: MIT
#include "config.h"

#include <string.h>

#include "tun/checksum.h"

typedef uint64_t v2u64 __attribute__((vector_size(16)));

static inline v2u64 load128(const uint8_t *p)
{
	v2u64 v;

	memcpy(&v, p, 16);
	return v;
}

static inline uint64_t fold64(uint64_t a)
{
	a = (a & 0xffffffff) + (a >> 32);
	return (a & 0xffffffff) + (a >> 32);
}

/*
 * One's-complement sums do not depend on byte order (RFC 1071 §2(B)), so
 * the data is summed as native 32-bit words and the folded result swapped
 * to big-endian at the end.  Each 64-bit lane adds the low and the high
 * 32-bit halves of 16-byte loads separately, so no carry is ever lost
 * (2^31 loads before a lane could overflow) and the loop maps onto plain
 * SIMD adds (GCC vector extensions: SSE2 on x86-64, scalar elsewhere).
 * Measured against a 64-bit add-with-carry chain: ~20% faster here.
 */
static uint16_t sum_native(const uint8_t *p, size_t len)
{
	const v2u64 lo = { 0xffffffff, 0xffffffff };
	v2u64 a = { 0, 0 }, b = { 0, 0 }, c = { 0, 0 }, d = { 0, 0 };
	v2u64 x, y, z, w;
	uint64_t s;
	uint32_t w32;
	uint16_t w16;

	while (len >= 64) {
		x = load128(p);
		y = load128(p + 16);
		z = load128(p + 32);
		w = load128(p + 48);
		a += (x & lo) + (y & lo);
		b += (x >> 32) + (y >> 32);
		c += (z & lo) + (w & lo);
		d += (z >> 32) + (w >> 32);
		p += 64;
		len -= 64;
	}
	while (len >= 16) {
		x = load128(p);
		a += x & lo;
		b += x >> 32;
		p += 16;
		len -= 16;
	}
	a += b + c + d;
	s = fold64(a[0]) + fold64(a[1]);
	while (len >= 4) {
		memcpy(&w32, p, 4);
		s += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		s += w16;
	}
	return csum_fold((uint32_t)fold64(s));
}

static inline uint32_t native_to_be(uint16_t s)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(s);
#else
	return s;
#endif
}

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint32_t s = native_to_be(sum_native(p, len & ~(size_t)1));

	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	s += csum_fold(sum);
	return csum_fold(s);
}

/* The same lanes as sum_native(), storing what they load: one pass over
 * the data instead of a memcpy followed by a sum. */
uint32_t csum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
	const v2u64 lo = { 0xffffffff, 0xffffffff };
	v2u64 a = { 0, 0 }, b = { 0, 0 }, c = { 0, 0 }, d = { 0, 0 };
	v2u64 x, y, z, w;
	const uint8_t *sp = src;
	uint8_t *dp = dst;
	size_t blocks = len & ~(size_t)63;
	uint32_t s;

	for (size_t i = 0; i < blocks; i += 64) {
		x = load128(sp + i);
		y = load128(sp + i + 16);
		z = load128(sp + i + 32);
		w = load128(sp + i + 48);
		memcpy(dp + i, &x, 16);
		memcpy(dp + i + 16, &y, 16);
		memcpy(dp + i + 32, &z, 16);
		memcpy(dp + i + 48, &w, 16);
		a += (x & lo) + (y & lo);
		b += (x >> 32) + (y >> 32);
		c += (z & lo) + (w & lo);
		d += (z >> 32) + (w >> 32);
	}
	a += b + c + d;
	s = native_to_be(csum_fold((uint32_t)fold64(fold64(a[0]) + fold64(a[1]))));
	s += csum_fold(sum);
	memcpy(dp + blocks, sp + blocks, len - blocks);
	return csum_partial(sp + blocks, len - blocks, s);
}

uint32_t csum_pseudo(const void *src, const void *dst, size_t addr_len,
		     uint8_t proto, uint32_t len)
{
	uint32_t s = csum_partial(src, addr_len, 0);

	s = csum_partial(dst, addr_len, s);
	s += proto;
	s += len >> 16;
	s += len & 0xffff;
	return csum_fold(s);
}

uint16_t csum_ipv4_header(const void *hdr, size_t len)
{
	const uint8_t *h = hdr;
	uint32_t s = csum_partial(h, 10, 0);

	if (len > 12)
		s = csum_partial(h + 12, len - 12, s);
	return csum_finish(s);
}

uint16_t csum_replace2(uint16_t check, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint16_t)~check;

	s += (uint16_t)~old;
	s += new_;
	return csum_finish(s);
}

uint16_t csum_replace4(uint16_t check, uint32_t old, uint32_t new_)
{
	check = csum_replace2(check, (uint16_t)(old >> 16), (uint16_t)(new_ >> 16));
	return csum_replace2(check, (uint16_t)old, (uint16_t)new_);
}
