/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_VIRTIO_H
#define VGUARD_TUN_VIRTIO_H

#include <stdint.h>
#include <string.h>
#include <linux/virtio_net.h>

/* Debian's headers may predate USO (Linux 6.2). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

/* The legacy 10-byte virtio_net_hdr an IFF_VNET_HDR TUN prepends to every
 * packet.  The TUN uses host byte order (tun_linux.c clears the
 * TUNSETVNETLE/BE flag that would change it), so the codec is a plain copy
 * field by field; keeping our own struct avoids the __virtio16 annotations
 * and fixes the wire size. */
#define VNET_HDR_LEN 10

struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

static inline void vnet_hdr_decode(struct vnet_hdr *h, const uint8_t *b)
{
	h->flags = b[0];
	h->gso_type = b[1];
	memcpy(&h->hdr_len, b + 2, 2);
	memcpy(&h->gso_size, b + 4, 2);
	memcpy(&h->csum_start, b + 6, 2);
	memcpy(&h->csum_offset, b + 8, 2);
}

static inline void vnet_hdr_encode(uint8_t *b, const struct vnet_hdr *h)
{
	b[0] = h->flags;
	b[1] = h->gso_type;
	memcpy(b + 2, &h->hdr_len, 2);
	memcpy(b + 4, &h->gso_size, 2);
	memcpy(b + 6, &h->csum_start, 2);
	memcpy(b + 8, &h->csum_offset, 2);
}

#endif
