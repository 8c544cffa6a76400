/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VG_DEVICE_H
#define VGUARD_TOOLS_VG_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn/endpoint.h"	/* union vg_sockaddr */
#include "tools/vg_encoding.h"

/* The in-memory form of one interface's configuration, shared by the
 * config-file parser, the UAPI client and the printers. */

struct vg_allowedip {
	struct vg_allowedip *next;
	int family;		/* AF_INET, AF_INET6 */
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	};
	uint8_t cidr;
	bool remove;		/* `-prefix`: take it away instead of adding */
};

enum {
	VG_PEER_REMOVE = 1U << 0,
	VG_PEER_REPLACE_ALLOWEDIPS = 1U << 1,
	VG_PEER_HAS_PUBLIC_KEY = 1U << 2,
	VG_PEER_HAS_PRESHARED_KEY = 1U << 3,
	VG_PEER_HAS_KEEPALIVE = 1U << 4,
};

struct vg_peer {
	struct vg_peer *next;
	uint32_t flags;
	uint8_t public_key[VG_KEY_LEN];
	uint8_t preshared_key[VG_KEY_LEN];
	union vg_sockaddr endpoint;	/* sa_family 0 when unset */
	int64_t handshake_sec;
	int64_t handshake_nsec;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint16_t keepalive;
	struct vg_allowedip *first_allowedip;
	struct vg_allowedip *last_allowedip;
};

enum {
	VG_DEV_REPLACE_PEERS = 1U << 0,
	VG_DEV_HAS_PRIVATE_KEY = 1U << 1,
	VG_DEV_HAS_PUBLIC_KEY = 1U << 2,
	VG_DEV_HAS_LISTEN_PORT = 1U << 3,
	VG_DEV_HAS_FWMARK = 1U << 4,
};

struct vg_device {
	char name[IFNAMSIZ];
	uint32_t flags;
	uint8_t public_key[VG_KEY_LEN];
	uint8_t private_key[VG_KEY_LEN];
	uint32_t fwmark;
	uint16_t listen_port;
	struct vg_peer *first_peer;
	struct vg_peer *last_peer;
};

#define vg_for_each_peer(dev, p) for ((p) = (dev)->first_peer; (p); (p) = (p)->next)
#define vg_for_each_allowedip(peer, a) \
	for ((a) = (peer)->first_allowedip; (a); (a) = (a)->next)

struct vg_device *vg_device_new(void);
struct vg_peer *vg_device_add_peer(struct vg_device *dev);
struct vg_allowedip *vg_peer_add_allowedip(struct vg_peer *peer);
/* Wipes every key before freeing; NULL is fine. */
void vg_device_free(struct vg_device *dev);

/* The peer's endpoint is set (IPv4 or IPv6). */
bool vg_peer_has_endpoint(const struct vg_peer *peer);

/* Room for any numeric host (NI_MAXHOST) and service (NI_MAXSERV), the
 * brackets, the colon and the NUL. */
#define VG_HOSTPORT_SIZE (1025 + 32 + 8)

/* Formats ep numerically as host:port, [host]:port for IPv6, the form
 * wg, the UAPI and config files use.  On failure buf holds the resolver's
 * message and false is returned.  Through getnameinfo() as wg does, so a
 * scoped IPv6 address carries its interface name (conn/'s
 * vg_endpoint_format() prints the index, for logs). */
bool vg_hostport_format(char buf[VG_HOSTPORT_SIZE], const union vg_sockaddr *ep);

#endif
