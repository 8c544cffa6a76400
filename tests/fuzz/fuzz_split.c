// SPDX-License-Identifier: MIT
/* libFuzzer target for offload_split: any input must give a packet count or
 * a known errno, never touch bytes outside the buffers (ASan), keep every
 * payload byte, and produce segments whose checksums verify. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "tun/offload.h"
#include "tun/offload_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0x5a
/* Bytes of each buffer checked for stray writes (ASan covers the rest). */
#define CHECKED(cap) ((cap) < 2048 ? (cap) : 2048)

static void check_segments(const uint8_t *in, size_t in_len,
			   uint8_t *const *bufs, const size_t *sizes, int n,
			   size_t headroom)
{
	struct vnet_hdr h;
	size_t hdr_len, total = 0, iph;
	uint8_t proto;
	bool v6;
	int i;

	vnet_hdr_decode(&h, in);
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (n != 1 || sizes[0] != in_len - VNET_HDR_LEN)
			abort();
		return;
	}
	v6 = (in[VNET_HDR_LEN] >> 4) == 6;
	iph = h.csum_start;
	proto = h.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 ? PKT_UDP : PKT_TCP;
	hdr_len = iph + (proto == PKT_UDP ? 8 : (in[VNET_HDR_LEN + iph + 12] >> 4) * 4u);
	for (i = 0; i < n; i++) {
		const uint8_t *seg = bufs[i] + headroom;

		if (sizes[i] <= hdr_len || sizes[i] - hdr_len > h.gso_size)
			abort();
		if (i + 1 < n && sizes[i] - hdr_len != h.gso_size)
			abort();
		total += sizes[i] - hdr_len;
		if (!ref_l4_ok(seg, sizes[i], v6, proto, iph))
			abort();
		if (!v6 && !ref_ip4_ok(seg))
			abort();
		if (memcmp(seg + hdr_len,
			   in + VNET_HDR_LEN + hdr_len + (size_t)i * h.gso_size,
			   sizes[i] - hdr_len))
			abort();
	}
	if (total != in_len - VNET_HDR_LEN - hdr_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *bufs[OFFLOAD_MAX_SEGMENTS];
	static size_t sizes[OFFLOAD_MAX_SEGMENTS];
	size_t nbufs, headroom, bufcap, i, j;
	uint8_t *in;
	int ret;

	if (size < 3)
		return 0;
	nbufs = data[0] % (OFFLOAD_MAX_SEGMENTS + 1);
	headroom = data[1] % 64;
	bufcap = headroom + ((data[2] & 0x0f) == 0x0f ? 65535 : 40 + (size_t)data[2] * 8);
	if (bufcap > 4096)
		nbufs %= 8;	/* keep big buffers few: executions stay fast */
	data += 3;
	size -= 3;

	/* Exact-size copies so ASan sees any read or write past an end. */
	in = malloc(size ? size : 1);
	memcpy(in, data, size);
	for (i = 0; i < nbufs; i++) {
		bufs[i] = malloc(bufcap);
		memset(bufs[i], SENTINEL, CHECKED(bufcap));
	}
	ret = offload_split(in, size, bufs, sizes, nbufs, headroom, bufcap);
	if (ret < 0) {
		if (ret != -EINVAL && ret != -ENOBUFS && ret != -EMSGSIZE)
			abort();
		/* A refused input writes nothing. */
		for (i = 0; i < nbufs; i++)
			for (j = 0; j < CHECKED(bufcap); j++)
				if (bufs[i][j] != SENTINEL)
					abort();
	} else {
		if (ret == 0 || (size_t)ret > nbufs)
			abort();
		for (i = 0; i < (size_t)ret; i++) {
			if (sizes[i] > bufcap - headroom)
				abort();
			for (j = 0; j < headroom; j++)
				if (bufs[i][j] != SENTINEL)
					abort();
		}
		check_segments(in, size, bufs, sizes, ret, headroom);
	}
	for (i = 0; i < nbufs; i++)
		free(bufs[i]);
	free(in);
	return 0;
}
