/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_BATCH_H
#define VGUARD_CONN_BATCH_H

/*
 * The pure halves of UDP GSO and GRO, shared by the Linux and in-memory
 * binds and pinned down by the unit tests: how a batch of datagrams is
 * packed into UDP_SEGMENT messages, and how a coalesced receive is cut
 * back into datagrams.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "conn/bind.h"

/* One message to send: datagrams first .. first+count-1 of the batch.
 * gso_size is 0 when the message holds one datagram (no UDP_SEGMENT). */
struct vg_gso_msg {
	unsigned int first;
	unsigned int count;
	uint16_t gso_size;
	size_t bytes;
};

/* Packs pkts[0..n) in order into at most out_n messages. A message starts
 * with a datagram whose length becomes the segment size and takes the
 * following ones while they are no longer than it, no datagram before was
 * shorter (a short one may only be last), there are fewer than max_segs and
 * the bytes stay within max_bytes. A first datagram longer than max_seg (or
 * empty) goes alone; max_segs <= 1 turns packing off. Returns the number of
 * messages; *consumed says how many datagrams they cover (less than n only
 * when out_n ran out). */
unsigned int vg_gso_plan(const struct iovec *pkts, unsigned int n, unsigned int max_segs,
			 size_t max_bytes, size_t max_seg, struct vg_gso_msg *out,
			 unsigned int out_n, unsigned int *consumed);

/* Cuts buf[*off .. len) into pieces of gso bytes (the last may be shorter;
 * gso <= 0 means the whole rest is one datagram) and copies them in order
 * into pkts[0..n), each getting a copy of *ep. A piece larger than its
 * slot's cap is skipped and counted in *truncated. Advances *off past the
 * pieces handled. Returns the slots filled. */
unsigned int vg_gro_split(const uint8_t *buf, size_t len, size_t *off, int gso,
			  const struct vg_endpoint *ep, struct vg_rx_pkt *pkts, unsigned int n,
			  uint64_t *truncated);
/* The same cut, but each slot's data is pointed at its piece in buf
 * instead of getting a copy (the caps still apply). */
unsigned int vg_gro_lend(uint8_t *buf, size_t len, size_t *off, int gso,
			 const struct vg_endpoint *ep, struct vg_rx_pkt *pkts, unsigned int n,
			 uint64_t *truncated);

#endif
