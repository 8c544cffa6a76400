// SPDX-License-Identifier: MIT
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn/endpoint.h"

int vg_endpoint_from_sockaddr(struct vg_endpoint *ep, const struct sockaddr *sa, socklen_t len)
{
	memset(ep, 0, sizeof(*ep));
	if (!sa || len < sizeof(sa_family_t))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		if (len < sizeof(struct sockaddr_in))
			return -EINVAL;
		memcpy(&ep->dst.in4, sa, sizeof(ep->dst.in4));
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (len < sizeof(struct sockaddr_in6))
		return -EINVAL;
	memcpy(&ep->dst.in6, sa, sizeof(ep->dst.in6));
	/* v4-mapped peers must go out of the IPv4 socket (the v6 one is V6ONLY). */
	if (IN6_IS_ADDR_V4MAPPED(&ep->dst.in6.sin6_addr)) {
		struct sockaddr_in in4 = {
			.sin_family = AF_INET,
			.sin_port = ep->dst.in6.sin6_port,
		};

		memcpy(&in4.sin_addr, &ep->dst.in6.sin6_addr.s6_addr[12], 4);
		memset(&ep->dst, 0, sizeof(ep->dst));
		ep->dst.in4 = in4;
	}
	return 0;
}

char *vg_endpoint_format(const struct vg_endpoint *ep, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "";

	if (!len)
		return buf;
	switch (ep->dst.sa.sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &ep->dst.in4.sin_addr, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, ntohs(ep->dst.in4.sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &ep->dst.in6.sin6_addr, addr, sizeof(addr));
		if (ep->dst.in6.sin6_scope_id)
			snprintf(buf, len, "[%s%%%u]:%u", addr, ep->dst.in6.sin6_scope_id,
				 ntohs(ep->dst.in6.sin6_port));
		else
			snprintf(buf, len, "[%s]:%u", addr, ntohs(ep->dst.in6.sin6_port));
		break;
	default:
		snprintf(buf, len, "(none)");
	}
	return buf;
}
