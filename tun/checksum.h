/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_CHECKSUM_H
#define VGUARD_TUN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * RFC 1071 Internet checksums.
 *
 * A "sum" is the one's-complement sum of big-endian 16-bit words kept in a
 * uint32_t; every function here returns it folded to 0..0xffff, so sums can
 * be chained: csum_partial(b, nb, csum_partial(a, na, 0)) equals the sum of
 * a followed by b as long as na is even.  The value stored in a packet is
 * csum_finish(sum), in network byte order.
 */

/* Adds buf[0..len) to sum (any 32-bit value) and returns the folded sum. */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

/* Copies src[0..len) to dst (no overlap) and returns
 * csum_partial(src, len, sum), reading the data once. */
uint32_t csum_copy(void *dst, const void *src, size_t len, uint32_t sum);

/* Folds a 32-bit accumulator to 16 bits with end-around carry. */
static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The value to store in a checksum field (host order). */
static inline uint16_t csum_finish(uint32_t sum)
{
	return (uint16_t)~csum_fold(sum);
}

/* Like csum_finish(), but never 0: a computed 0 is sent as 0xffff (the
 * same value in one's complement), as the kernel does, because 0 means
 * "no checksum" for UDP over IPv4. */
static inline uint16_t csum_finish_nz(uint32_t sum)
{
	uint16_t c = csum_finish(sum);

	return c ? c : 0xffff;
}

/* Pseudo-header sum for IPv4 (addr_len 4) or IPv6 (addr_len 16): source,
 * destination, protocol and upper-layer length.  Folded, not complemented:
 * this is also the CHECKSUM_PARTIAL value the kernel expects in the L4
 * checksum field with VIRTIO_NET_HDR_F_NEEDS_CSUM. */
uint32_t csum_pseudo(const void *src, const void *dst, size_t addr_len,
		     uint8_t proto, uint32_t len);

/* IPv4 header checksum of hdr[0..len) with the checksum field (bytes
 * 10..11) taken as zero; returns the value to store (host order). */
uint16_t csum_ipv4_header(const void *hdr, size_t len);

/* RFC 1624 eqn. 3 incremental update: the checksum field check (host
 * order) after a 16-bit word of the covered data changes from old to new. */
uint16_t csum_replace2(uint16_t check, uint16_t old, uint16_t new_);

/* The same for a 32-bit field (e.g. an IPv4 address or TCP sequence). */
uint16_t csum_replace4(uint16_t check, uint32_t old, uint32_t new_);

#endif
