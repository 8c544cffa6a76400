// SPDX-License-Identifier: MIT
#include "config.h"

#include <string.h>

#include "tun/checksum.h"

/* 64-bit add with end-around carry: compilers turn this into add/adc. */
static inline uint64_t add64(uint64_t a, uint64_t b)
{
	a += b;
	return a + (a < b);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/*
 * One's-complement sums do not depend on byte order (RFC 1071 §2(B)), so
 * the data is summed as native 64-bit words and the folded result swapped
 * to big-endian at the end.  Four accumulators keep the adds independent.
 */
static uint16_t sum_native(const uint8_t *p, size_t len)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;
	uint32_t w32;
	uint16_t w16;

	while (len >= 64) {
		a = add64(a, load64(p));
		b = add64(b, load64(p + 8));
		c = add64(c, load64(p + 16));
		d = add64(d, load64(p + 24));
		a = add64(a, load64(p + 32));
		b = add64(b, load64(p + 40));
		c = add64(c, load64(p + 48));
		d = add64(d, load64(p + 56));
		p += 64;
		len -= 64;
	}
	while (len >= 8) {
		a = add64(a, load64(p));
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		b = add64(b, w32);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		c = add64(c, w16);
	}
	a = add64(add64(a, b), add64(c, d));
	a = (a & 0xffffffff) + (a >> 32);
	a = (a & 0xffffffff) + (a >> 32);
	return csum_fold((uint32_t)a);
}

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint32_t s = sum_native(p, len & ~(size_t)1);

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = __builtin_bswap16((uint16_t)s);
#endif
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	s += csum_fold(sum);
	return csum_fold(s);
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
