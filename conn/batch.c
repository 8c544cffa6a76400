// SPDX-License-Identifier: MIT
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "conn/batch.h"

static unsigned int gso_run(const struct iovec *pkts, unsigned int n, unsigned int max_segs,
			    size_t max_bytes, size_t *bytes)
{
	size_t seg = pkts[0].iov_len;
	unsigned int count = 1;

	*bytes = seg;
	while (count < n && count < max_segs) {
		size_t len = pkts[count].iov_len;

		if (len > seg || len == 0 || *bytes + len > max_bytes)
			break;
		*bytes += len;
		count++;
		if (len < seg)
			break;	/* a short datagram ends the run */
	}
	return count;
}

unsigned int vg_gso_plan(const struct iovec *pkts, unsigned int n, unsigned int max_segs,
			 size_t max_bytes, size_t max_seg, struct vg_gso_msg *out,
			 unsigned int out_n, unsigned int *consumed)
{
	unsigned int i = 0, m = 0;

	while (i < n && m < out_n) {
		struct vg_gso_msg *msg = &out[m++];
		size_t seg = pkts[i].iov_len;

		msg->first = i;
		msg->gso_size = 0;
		if (max_segs <= 1 || seg == 0 || seg > max_seg || seg > UINT16_MAX) {
			msg->count = 1;
			msg->bytes = seg;
		} else {
			msg->count = gso_run(pkts + i, n - i, max_segs, max_bytes, &msg->bytes);
			if (msg->count > 1)
				msg->gso_size = (uint16_t)seg;
		}
		i += msg->count;
	}
	*consumed = i;
	return m;
}

/* The pieces of one GRO buffer, copied into the slots or lent in place. */
static unsigned int gro_pieces(const uint8_t *buf, size_t len, size_t *off, int gso,
			       const struct vg_endpoint *ep, struct vg_rx_pkt *pkts,
			       unsigned int n, uint64_t *truncated, bool lend)
{
	unsigned int filled = 0;

	while (*off < len && filled < n) {
		size_t piece = len - *off;
		struct vg_rx_pkt *p = &pkts[filled];

		if (gso > 0 && piece > (size_t)gso)
			piece = (size_t)gso;
		if (piece > p->cap) {
			(*truncated)++;
			*off += piece;
			continue;
		}
		if (lend)
			p->data = (uint8_t *)buf + *off;
		else
			memcpy(p->data, buf + *off, piece);
		p->len = (uint32_t)piece;
		p->ep = *ep;
		*off += piece;
		filled++;
	}
	return filled;
}

unsigned int vg_gro_split(const uint8_t *buf, size_t len, size_t *off, int gso,
			  const struct vg_endpoint *ep, struct vg_rx_pkt *pkts, unsigned int n,
			  uint64_t *truncated)
{
	return gro_pieces(buf, len, off, gso, ep, pkts, n, truncated, false);
}

unsigned int vg_gro_lend(uint8_t *buf, size_t len, size_t *off, int gso,
			 const struct vg_endpoint *ep, struct vg_rx_pkt *pkts, unsigned int n,
			 uint64_t *truncated)
{
	return gro_pieces(buf, len, off, gso, ep, pkts, n, truncated, true);
}
