// SPDX-License-Identifier: MIT
/* Sticky sources: the PKTINFO control messages and the route watcher. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <netinet/in.h>

#include "conn/cmsg.h"
#include "conn/sticky.h"

size_t vg_sticky_cmsg_space(void)
{
	return CMSG_SPACE(sizeof(struct in6_pktinfo));
}

size_t vg_sticky_build(const struct vg_endpoint *ep, void *ctl, size_t len)
{
	if (!ep->has_src)
		return 0;
	/*
	 * The source address only: an interface index would make the kernel
	 * send out of that interface even where the routing table says
	 * blackhole, unreachable or another interface (as the kernel module
	 * and wireguard-go do not).  A link-local IPv6 source needs its
	 * interface to mean anything.
	 */
	if (vg_endpoint_family(ep) == AF_INET) {
		struct in_pktinfo pi = {
			.ipi_spec_dst = ep->src.in4,
		};

		return vg_cmsg_put(ctl, len, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	}
	if (vg_endpoint_family(ep) == AF_INET6) {
		struct in6_pktinfo pi = {
			.ipi6_addr = ep->src.in6,
		};

		if (IN6_IS_ADDR_LINKLOCAL(&ep->src.in6))
			pi.ipi6_ifindex = ep->src_ifindex;

		return vg_cmsg_put(ctl, len, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
	}
	return 0;
}

bool vg_sticky_parse(const struct msghdr *msg, struct vg_endpoint *ep)
{
	const struct cmsghdr *cm;

	vg_endpoint_clear_src(ep);
	if (vg_endpoint_family(ep) == AF_INET) {
		struct in_pktinfo pi;

		cm = vg_cmsg_find(msg, IPPROTO_IP, IP_PKTINFO, sizeof(pi));
		if (!cm)
			return false;
		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		ep->src.in4 = pi.ipi_spec_dst;
		ep->src_ifindex = (uint32_t)pi.ipi_ifindex;
	} else if (vg_endpoint_family(ep) == AF_INET6) {
		struct in6_pktinfo pi;

		cm = vg_cmsg_find(msg, IPPROTO_IPV6, IPV6_PKTINFO, sizeof(pi));
		if (!cm)
			return false;
		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		ep->src.in6 = pi.ipi6_addr;
		ep->src_ifindex = pi.ipi6_ifindex;
	} else {
		return false;
	}
	ep->has_src = true;
	return true;
}

struct vg_route_watch {
	struct mnl_socket *events;	/* route group notifications */
	struct mnl_socket *query;	/* RTM_GETROUTE requests */
	unsigned int seq;
	uint8_t buf[8192];	/* MNL_SOCKET_BUFFER_SIZE is not a constant */
};

int vg_route_watch_open(struct vg_route_watch **out)
{
	struct vg_route_watch *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->events = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w->events)
		goto fail;
	if (mnl_socket_bind(w->events, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	w->query = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!w->query)
		goto fail;
	if (mnl_socket_bind(w->query, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	w->seq = (unsigned int)time(NULL);
	*out = w;
	return 0;
fail:
	err = -errno;
	vg_route_watch_close(w);
	return err ? err : -EIO;
}

void vg_route_watch_close(struct vg_route_watch *w)
{
	if (!w)
		return;
	if (w->events)
		mnl_socket_close(w->events);
	if (w->query)
		mnl_socket_close(w->query);
	free(w);
}

int vg_route_watch_fd(const struct vg_route_watch *w)
{
	return mnl_socket_get_fd(w->events);
}

int vg_route_watch_read(struct vg_route_watch *w)
{
	int changed = 0;

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(w->events, w->buf, sizeof(w->buf));
		const struct nlmsghdr *nlh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return changed;
			if (errno == ENOBUFS)	/* overrun: anything may have changed */
				changed = 1;
			else
				return -errno;
			continue;
		}
		for (nlh = (const struct nlmsghdr *)w->buf; mnl_nlmsg_ok(nlh, (int)len);
		     nlh = mnl_nlmsg_next(nlh, (int *)&len)) {
			if (nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE)
				changed = 1;
		}
	}
}

struct route_reply {
	uint32_t oif;
	bool found;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_reply *r = data;

	if (mnl_attr_get_type(attr) == RTA_OIF && !mnl_attr_validate(attr, MNL_TYPE_U32)) {
		r->oif = mnl_attr_get_u32(attr);
		r->found = true;
	}
	return MNL_CB_OK;
}

static int route_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, data);
}

static void route_request(struct nlmsghdr *nlh, const struct vg_endpoint *ep, uint32_t fwmark)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	int v6 = vg_endpoint_family(ep) == AF_INET6;
	size_t alen = v6 ? 16 : 4;

	rtm->rtm_family = (uint8_t)vg_endpoint_family(ep);
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	rtm->rtm_src_len = (uint8_t)(alen * 8);
	if (v6) {
		mnl_attr_put(nlh, RTA_DST, alen, &ep->dst.in6.sin6_addr);
		mnl_attr_put(nlh, RTA_SRC, alen, &ep->src.in6);
	} else {
		mnl_attr_put(nlh, RTA_DST, alen, &ep->dst.in4.sin_addr);
		mnl_attr_put(nlh, RTA_SRC, alen, &ep->src.in4);
	}
	if (fwmark)
		mnl_attr_put_u32(nlh, RTA_MARK, fwmark);
}

int vg_route_check(struct vg_route_watch *w, const struct vg_endpoint *ep, uint32_t fwmark)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(w->buf);
	struct route_reply reply = { 0 };
	unsigned int portid = mnl_socket_get_portid(w->query);
	ssize_t len;
	int ret;

	if (!ep->has_src)
		return 1;
	if (vg_endpoint_family(ep) != AF_INET && vg_endpoint_family(ep) != AF_INET6)
		return -EAFNOSUPPORT;
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++w->seq;
	route_request(nlh, ep, fwmark);
	if (mnl_socket_sendto(w->query, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(w->query, w->buf, sizeof(w->buf));
		if (len < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		ret = mnl_cb_run(w->buf, (size_t)len, w->seq, portid, route_msg_cb, &reply);
	} while (ret > 0 && !reply.found);
	if (ret < 0) {
		/* No route at all (ENETUNREACH...): the source is stale. */
		if (errno == ENETUNREACH || errno == EHOSTUNREACH || errno == EINVAL ||
		    errno == EADDRNOTAVAIL)
			return 0;
		return -errno;
	}
	return reply.found && reply.oif == ep->src_ifindex ? 1 : 0;
}
