/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_STICKY_H
#define VGUARD_CONN_STICKY_H

/*
 * Sticky sources: the IP_PKTINFO / IPV6_PKTINFO control messages that carry
 * the local address (and interface) a datagram arrived on and make a reply
 * leave from it, plus a route watcher that tells the layer above when the
 * cached sources may be stale.
 *
 * When to clear a peer's sticky source (doc/architecture.md, "Sticky
 * sources"): on rebind, on an fwmark change, on every handshake
 * retransmission, when vg_bind_send() reports it refused after EINVAL, and when the route watcher says a route changed and
 * vg_route_check() finds the peer's route now leaves elsewhere.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn/endpoint.h"

/* Control bytes vg_sticky_build() needs at most (CMSG_SPACE of in6_pktinfo). */
size_t vg_sticky_cmsg_space(void);

/* Writes ep's sticky source as one IP_PKTINFO (ipi_spec_dst) or
 * IPV6_PKTINFO (ipi6_addr, and ipi6_ifindex for a link-local one) control
 * message at ctl: the routing table still decides the way out.
 * Returns the bytes used (CMSG_SPACE), or 0 when there is nothing to say
 * (no source, or a family mismatch) or it does not fit in len. */
size_t vg_sticky_build(const struct vg_endpoint *ep, void *ctl, size_t len);

/* Reads the sticky source from a received message's control data: walks
 * every cmsg within msg_controllen and takes the first IP_PKTINFO
 * (ipi_spec_dst: the local address the kernel would reply from, which is
 * the destination the sender used for unicast) or IPV6_PKTINFO (ipi6_addr). Clears ep's source first; sets it only when
 * one of the family of ep->dst was found. Returns true if set. */
bool vg_sticky_parse(const struct msghdr *msg, struct vg_endpoint *ep);

/*
 * Route watcher: an rtnetlink socket (libmnl) subscribed to the IPv4 and
 * IPv6 route groups. Put vg_route_watch_fd() in an epoll; when readable,
 * vg_route_watch_read() drains it and returns 1 if any route was added or
 * removed (sticky sources may be stale: run vg_route_check() on each
 * peer's endpoint, or simply clear them all), 0 if nothing relevant.
 */
struct vg_route_watch;
int vg_route_watch_open(struct vg_route_watch **out);
int vg_route_watch_fd(const struct vg_route_watch *w);
int vg_route_watch_read(struct vg_route_watch *w);
void vg_route_watch_close(struct vg_route_watch *w);

/* Asks the kernel (RTM_GETROUTE, with the fwmark) which interface now
 * carries traffic from ep's sticky source to ep->dst. Returns 1 if it is
 * still ep->src_ifindex (the source is fine), 0 if it changed or the route
 * is gone (clear it), a negative errno if the kernel could not be asked.
 * An endpoint without a source returns 1. Synchronous; control thread. */
int vg_route_check(struct vg_route_watch *w, const struct vg_endpoint *ep, uint32_t fwmark);

#endif
