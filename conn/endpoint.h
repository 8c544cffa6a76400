/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_ENDPOINT_H
#define VGUARD_CONN_ENDPOINT_H

/*
 * An endpoint: where a peer is (remote address and port, IPv4 or IPv6) and
 * the "sticky source" it was last reached from: the local address and the
 * interface index a datagram from it arrived on (IP_PKTINFO/IPV6_PKTINFO).
 * Sending with the sticky source makes replies leave from the address the
 * peer talked to, which matters on multi-homed hosts.
 *
 * A plain value type: copy it freely (no pointers inside).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

union vg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct vg_endpoint {
	union vg_sockaddr dst;		/* remote; dst.sa.sa_family AF_INET/AF_INET6, or 0 = unset */
	union {
		struct in_addr in4;
		struct in6_addr in6;
	} src;				/* sticky local address, same family as dst */
	uint32_t src_ifindex;		/* sticky interface, 0 = any */
	bool has_src;			/* src/src_ifindex are valid */
	/* The IPv6 zone was configured as a number: printed back as one (as
	 * wireguard-go does); otherwise it is printed as the interface name. */
	bool zone_numeric;
};

/* Fills *ep from a sockaddr (AF_INET or AF_INET6; a v4-mapped v6 address is
 * turned into plain IPv4). The sticky source is cleared. -EAFNOSUPPORT or
 * -EINVAL on a bad address. */
int vg_endpoint_from_sockaddr(struct vg_endpoint *ep, const struct sockaddr *sa, socklen_t len);

/* AF_INET, AF_INET6, or 0 for an unset endpoint. */
static inline int vg_endpoint_family(const struct vg_endpoint *ep)
{
	return ep->dst.sa.sa_family;
}

static inline socklen_t vg_endpoint_dst_len(const struct vg_endpoint *ep)
{
	return ep->dst.sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in);
}

static inline void vg_endpoint_clear_src(struct vg_endpoint *ep)
{
	ep->has_src = false;
	ep->src_ifindex = 0;
	ep->src.in6 = (struct in6_addr){ 0 };
}

/* Same remote address and port (the sticky source is not compared). */
static inline bool vg_endpoint_dst_equal(const struct vg_endpoint *a, const struct vg_endpoint *b)
{
	if (a->dst.sa.sa_family != b->dst.sa.sa_family)
		return false;
	if (a->dst.sa.sa_family == AF_INET)
		return a->dst.in4.sin_port == b->dst.in4.sin_port &&
		       a->dst.in4.sin_addr.s_addr == b->dst.in4.sin_addr.s_addr;
	if (a->dst.sa.sa_family == AF_INET6)
		return a->dst.in6.sin6_port == b->dst.in6.sin6_port &&
		       a->dst.in6.sin6_scope_id == b->dst.in6.sin6_scope_id &&
		       IN6_ARE_ADDR_EQUAL(&a->dst.in6.sin6_addr, &b->dst.in6.sin6_addr);
	return true;
}

/* "1.2.3.4:51820" or "[fd00::1]:51820" as wg prints it; returns buf. */
#define VG_ENDPOINT_STRLEN 64
char *vg_endpoint_format(const struct vg_endpoint *ep, char *buf, size_t len);

#endif
