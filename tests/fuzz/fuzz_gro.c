// SPDX-License-Identifier: MIT
/* libFuzzer target for gro_batch.  The input describes a batch: packets are
 * either built from a few bytes of spec (so that flows, sequence numbers and
 * checksums line up and merges happen) or taken raw.  Invariants: indices in
 * range, increasing, none twice; bytes conserved; unmerged packets untouched
 * with a zero header; merged ones carry a consistent virtio header and split
 * back into segments whose checksums verify. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "tun/offload.h"
#include "tun/offload_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXPKT 2048

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* Builds packet bytes into buf (MAXPKT bytes); returns the length. */
static size_t make_packet(struct input *in, uint8_t *buf, uint32_t *seqs)
{
	uint8_t mode = take(in), a = take(in), b = take(in), c = take(in);
	struct pkt_spec s;
	size_t len, i;

	if (mode & 0x80) {	/* raw bytes */
		len = (size_t)(a << 8 | b) % MAXPKT;
		for (i = 0; i < len; i++)
			buf[i] = take(in);
		return len;
	}
	s = pkt_default(mode & 1, (mode & 2) ? PKT_UDP : PKT_TCP, 1 + a % 200, 0);
	s.dst = 2 + ((mode >> 2) & 1);
	s.seq = seqs[mode & 7];
	if (b & 1)
		s.seq -= (uint32_t)s.payload * (1 + ((b >> 1) & 1));
	s.pay_off = s.seq;
	if (b & 4)
		s.flags |= TH_PSH;
	if (b & 8)
		s.flags = (uint8_t)(TH_ACK | (c & 0xef));
	if (b & 16)
		s.ttl++;
	if (b & 32)
		s.optlen = 4 * (c & 3);
	if (c & 0x80)
		s.payload = 100;
	len = pkt_build(buf, &s);
	if (b & 64)
		buf[pkt_iph(&s) + (s.proto == PKT_TCP ? 16 : 6)] ^= 1;
	if (b & 128)
		buf[mode & 1 ? 7 : 8] ^= c;
	seqs[mode & 7] = s.seq + (uint32_t)s.payload;
	return len;
}

/* Header length of a packet GRO could have merged (it was a candidate). */
static size_t cand_hdr_len(const uint8_t *ip)
{
	size_t iph = (ip[0] >> 4) == 6 ? 40 : 20;
	uint8_t proto = iph == 40 ? ip[6] : ip[9];

	return iph + (proto == PKT_TCP ? (ip[iph + 12] >> 4) * 4u : 8u);
}

static void check_merged(uint8_t *vnet, size_t len)
{
	static uint8_t *segs[OFFLOAD_MAX_SEGMENTS];
	static size_t sizes[OFFLOAD_MAX_SEGMENTS];
	struct vnet_hdr h;
	size_t i;
	int n;

	vnet_hdr_decode(&h, vnet);
	if (h.flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || !h.gso_size ||
	    h.hdr_len >= len || (size_t)h.csum_start + h.csum_offset + 2 > len ||
	    (len - h.hdr_len + h.gso_size - 1) / h.gso_size > GRO_MAX_SEGMENTS ||
	    (len - h.hdr_len + h.gso_size - 1) / h.gso_size < 2)
		abort();
	if (!segs[0])
		for (i = 0; i < OFFLOAD_MAX_SEGMENTS; i++)
			segs[i] = malloc(65536);
	n = offload_split(vnet, VNET_HDR_LEN + len, segs, sizes,
			  OFFLOAD_MAX_SEGMENTS, 0, 65536);
	if (n < 2)
		abort();
	for (i = 0; i < (size_t)n; i++)
		if (!ref_l4_ok(segs[i], sizes[i], (segs[i][0] >> 4) == 6,
			       h.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 ? PKT_UDP : PKT_TCP,
			       h.csum_start))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[VNET_HDR_LEN];
	static uint8_t orig[GRO_MAX_BATCH][MAXPKT];
	static size_t olen[GRO_MAX_BATCH];
	uint8_t *bufs[GRO_MAX_BATCH];
	size_t lens[GRO_MAX_BATCH], n = 0, i, offset, bufcap, in_sum = 0, out_sum = 0;
	uint32_t seqs[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct input in = { data, size };
	struct gro_table *t;
	struct gro_stats st = { 0 };
	uint16_t out[GRO_MAX_BATCH];
	bool written[GRO_MAX_BATCH] = { false };
	uint8_t flags = take(&in);
	int ret;

	offset = VNET_HDR_LEN + (take(&in) & 7);
	bufcap = offset + MAXPKT + (flags & 4 ? 65535 - MAXPKT : (size_t)take(&in) * 8);
	while (in.n && n < GRO_MAX_BATCH) {
		olen[n] = make_packet(&in, orig[n], seqs);
		n++;
	}
	t = malloc(gro_table_size());
	gro_table_init(t, flags & 3);
	for (i = 0; i < n; i++) {
		bufs[i] = malloc(bufcap);
		memset(bufs[i], 0xee, offset);
		memcpy(bufs[i] + offset, orig[i], olen[i]);
		lens[i] = olen[i];
		in_sum += olen[i];
	}
	ret = gro_batch(t, bufs, lens, n, offset, bufcap, out, &st);
	if (ret < 0 || (size_t)ret > n)
		abort();
	for (i = 0; i < (size_t)ret; i++) {
		if (out[i] >= n || (i && out[i] <= out[i - 1]))
			abort();
		written[out[i]] = true;
		out_sum += lens[out[i]];
		if (lens[out[i]] > bufcap - offset || lens[out[i]] > 65535)
			abort();
		if (!memcmp(bufs[out[i]] + offset - VNET_HDR_LEN, zero, VNET_HDR_LEN)) {
			if (lens[out[i]] != olen[out[i]] ||
			    memcmp(bufs[out[i]] + offset, orig[out[i]], olen[out[i]]))
				abort();
		} else {
			check_merged(bufs[out[i]] + offset - VNET_HDR_LEN,
				     lens[out[i]]);
		}
	}
	for (i = 0; i < n; i++)
		if (!written[i])
			in_sum -= cand_hdr_len(orig[i]);
	if (in_sum != out_sum || st.merged[GRO_PROTO_TCP] + st.merged[GRO_PROTO_UDP] != n - (size_t)ret)
		abort();
	for (i = 0; i < n; i++)
		free(bufs[i]);
	free(t);
	return 0;
}
