/* SPDX-License-Identifier: MIT */
/*
 * "Destination unreachable" for a packet with no peer, as the kernel module
 * answers it (ICMP host unreachable / ICMPv6 address unreachable), written
 * back into the TUN so the sender learns at once.
 */
#include "config.h"

#include <string.h>

#include "device/device_impl.h"
#include "tun/checksum.h"

#define ICMP_V4_MAX 576		/* RFC 1812 4.3.2.3 */
#define ICMP_V6_MAX 1280	/* RFC 4443 2.4 (c) */

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool v4_answerable(const uint8_t *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4;
	unsigned int frag = ((unsigned int)pkt[6] << 8 | pkt[7]) & 0x1fff;

	if (ihl < 20 || ihl > len || frag)
		return false;
	/* No errors about errors, nor to multicast, broadcast or "this" hosts. */
	if (pkt[9] == 1 && len >= ihl + 1 && pkt[ihl] != 8 && pkt[ihl] != 13 &&
	    pkt[ihl] != 15 && pkt[ihl] != 17 && pkt[ihl] != 0 && pkt[ihl] != 14)
		return false;
	if (pkt[12] >= 224 || pkt[12] == 0 || pkt[16] >= 224)
		return false;
	return true;
}

static size_t icmp4(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len)
{
	size_t quote = len, total;

	if (!v4_answerable(pkt, len))
		return 0;
	if (quote > ICMP_V4_MAX - 28)
		quote = ICMP_V4_MAX - 28;
	total = 28 + quote;
	if (total > cap)
		return 0;
	memset(out, 0, 28);
	out[0] = 0x45;
	put16(out + 2, (unsigned int)total);
	out[8] = 64;
	out[9] = 1;
	memcpy(out + 12, pkt + 16, 4);	/* from the unreachable destination */
	memcpy(out + 16, pkt + 12, 4);
	put16(out + 10, csum_ipv4_header(out, 20));
	out[20] = 3;			/* destination unreachable */
	out[21] = 1;			/* host unreachable */
	memcpy(out + 28, pkt, quote);
	put16(out + 22, csum_finish(csum_partial(out + 20, 8 + quote, 0)));
	return total;
}

static size_t icmp6(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len)
{
	size_t quote = len, total;
	uint32_t sum;

	/* No errors about ICMPv6 errors, nor about multicast or unspecified. */
	if (pkt[6] == 58 && len > 40 && pkt[40] < 128)
		return 0;
	if (pkt[8] == 0xff || pkt[24] == 0xff)
		return 0;
	static const uint8_t unspec[16];
	if (!memcmp(pkt + 8, unspec, 16))
		return 0;
	if (quote > ICMP_V6_MAX - 48)
		quote = ICMP_V6_MAX - 48;
	total = 48 + quote;
	if (total > cap)
		return 0;
	memset(out, 0, 48);
	out[0] = 0x60;
	put16(out + 4, (unsigned int)(8 + quote));
	out[6] = 58;
	out[7] = 64;
	memcpy(out + 8, pkt + 24, 16);
	memcpy(out + 24, pkt + 8, 16);
	out[40] = 1;			/* destination unreachable */
	out[41] = 3;			/* address unreachable */
	memcpy(out + 48, pkt, quote);
	sum = csum_pseudo(out + 8, out + 24, 16, 58, (uint32_t)(8 + quote));
	put16(out + 42, csum_finish(csum_partial(out + 40, 8 + quote, sum)));
	return total;
}

size_t dev_icmp_unreachable(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len)
{
	if (len >= 20 && (pkt[0] >> 4) == 4)
		return icmp4(out, cap, pkt, len);
	if (len >= 40 && (pkt[0] >> 4) == 6)
		return icmp6(out, cap, pkt, len);
	return 0;
}
