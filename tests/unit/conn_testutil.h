/* SPDX-License-Identifier: MIT */
/* Endpoint builders shared by the conn/ unit suites. */
#ifndef VGUARD_TESTS_CONN_TESTUTIL_H
#define VGUARD_TESTS_CONN_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include "conn/endpoint.h"

/* An endpoint to addr (IPv4 or IPv6 text) and port, without a sticky
 * source; a typo in a test's address fails the test. */
static inline struct vg_endpoint vg_test_ep(const char *addr, uint16_t port)
{
	struct vg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	if (inet_pton(AF_INET, addr, &ep.dst.in4.sin_addr) == 1) {
		ep.dst.in4.sin_family = AF_INET;
		ep.dst.in4.sin_port = htons(port);
		return ep;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &ep.dst.in6.sin6_addr), 1);
	ep.dst.in6.sin6_family = AF_INET6;
	ep.dst.in6.sin6_port = htons(port);
	return ep;
}

/* Gives ep the sticky source src (of ep's family) on interface ifindex. */
static inline void vg_test_ep_src(struct vg_endpoint *ep, const char *src, uint32_t ifindex)
{
	ck_assert_int_eq(inet_pton(vg_endpoint_family(ep), src, &ep->src), 1);
	ep->has_src = true;
	ep->src_ifindex = ifindex;
}

#endif
