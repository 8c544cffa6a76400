/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_OFFLOAD_H
#define VGUARD_TUN_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "tun/virtio.h"

/*
 * The offload engine: pure functions, no syscalls, no allocation.
 *
 * Split (TUN read side): one buffer as read from an IFF_VNET_HDR TUN
 * (VNET_HDR_LEN bytes of virtio header, then the packet) becomes up to
 * nbufs plain IP packets.  Packet i is written at bufs[i] + headroom and is
 * sizes[i] bytes long; no byte is written outside
 * [bufs[i] + headroom, bufs[i] + bufcap).  For GSO_NONE the input may alias
 * bufs[0] + headroom - VNET_HDR_LEN, in which case the packet is finished in
 * place and not copied.
 *
 * Returns the number of packets (>= 1) or a negative errno:
 *   -EINVAL   malformed header or packet
 *   -ENOBUFS  more segments than nbufs
 *   -EMSGSIZE a segment does not fit bufcap - headroom
 * On error nothing at all is written.  GSO segments are complete packets:
 * fresh IPv4 ID/length/header checksum or IPv6 payload length, and a full
 * L4 checksum (never 0: 0xffff stands for it).  hdr_len is ignored; the
 * headers are csum_start (must equal the IPv4 IHL; >= 40 for IPv6, so
 * extension headers pass) plus the TCP data offset or 8.  GSO_NONE
 * packets are passed through, their NEEDS_CSUM checksum completed.
 */
#define OFFLOAD_MAX_SEGMENTS 128

int offload_split(const uint8_t *in, size_t in_len, uint8_t *const *bufs,
		  size_t *sizes, size_t nbufs, size_t headroom, size_t bufcap);

/*
 * GRO (TUN write side): a batch of n plain IP packets, packet i at
 * bufs[i] + offset with length lens[i], offset >= VNET_HDR_LEN, each buffer
 * bufcap bytes long.  Packets are merged in place (payload appended to the
 * head packet of a flow, which may grow up to bufcap - offset bytes), and
 * every packet that must be written gets its virtio header encoded at
 * bufs[i] + offset - VNET_HDR_LEN; lens[i] is its new IP length.
 *
 * On return out[0..ret) lists, in order, the indices to write; the write
 * for index i is bufs[i] + offset - VNET_HDR_LEN, lens[i] + VNET_HDR_LEN
 * bytes.  Packets merged into another are not listed.  Returns the count
 * or a negative errno (-EINVAL for bad arguments: n > GRO_MAX_BATCH, a
 * too small offset, or some lens[i] > bufcap - offset; nothing is touched
 * then).  Unmerged packets keep their bytes; only the VNET_HDR_LEN bytes in
 * front of them are written (zeroes).  A merged packet is at most 65535
 * bytes and GRO_MAX_SEGMENTS segments; its L4 checksum field holds the
 * pseudo-header sum (CHECKSUM_PARTIAL) for the kernel to complete.  stats
 * may be NULL; it is added to, not reset.
 *
 * The table is gro_table_size() bytes of caller memory (malloc alignment),
 * set up once with gro_table_init(flags) and reusable for every batch of
 * one thread; re-init it to change flags.
 */
#define GRO_MAX_BATCH 128
#define GRO_MAX_SEGMENTS 64

enum gro_flags {
	GRO_TCP = 1 << 0,
	GRO_UDP = 1 << 1,
};

/* Merge counters are kept per protocol: TCP and UDP GRO are switched and
 * reported separately. */
enum gro_proto {
	GRO_PROTO_TCP,
	GRO_PROTO_UDP,
	GRO_PROTOS,
};

struct gro_stats {
	uint64_t coalesced[GRO_PROTOS];	/* written packets carrying merged segments */
	uint64_t merged[GRO_PROTOS];	/* segments folded into another packet */
	uint64_t bad_csum;		/* candidates refused for a bad checksum */
};

struct gro_table;	/* fixed-size scratch state, see gro.c */

size_t gro_table_size(void);
void gro_table_init(struct gro_table *t, unsigned flags);
int gro_batch(struct gro_table *t, uint8_t *const *bufs, size_t *lens,
	      size_t n, size_t offset, size_t bufcap, uint16_t *out,
	      struct gro_stats *stats);

#endif
