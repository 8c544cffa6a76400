// SPDX-License-Identifier: MIT
/* PKTINFO / UDP_GRO / UDP_SEGMENT control messages and endpoint helpers. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn/cmsg.h"
#include "conn/endpoint.h"
#include "conn/sticky.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

union ctl {
	char buf[512];
	struct cmsghdr align;
};

/* Appends one cmsg at *off in c (through CMSG_DATA), returns it. */
static struct cmsghdr *add(union ctl *c, size_t *off, int level, int type, const void *d,
			   size_t len)
{
	struct cmsghdr *cm = (struct cmsghdr *)(c->buf + *off);

	ck_assert_uint_le(*off + CMSG_SPACE(len), sizeof(c->buf));
	memset(cm, 0, CMSG_SPACE(len));
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	if (len)
		memcpy(CMSG_DATA(cm), d, len);
	*off += CMSG_SPACE(len);
	return cm;
}

static struct msghdr msg_of(union ctl *c, size_t len)
{
	struct msghdr m = { .msg_control = len ? c->buf : NULL, .msg_controllen = len };

	return m;
}

static struct in_pktinfo pi4(const char *spec, int ifindex)
{
	struct in_pktinfo pi = { .ipi_ifindex = ifindex };

	ck_assert_int_eq(inet_pton(AF_INET, spec, &pi.ipi_spec_dst), 1);
	/* ipi_addr differs on purpose: the reply source is ipi_spec_dst. */
	ck_assert_int_eq(inet_pton(AF_INET, "10.9.9.9", &pi.ipi_addr), 1);
	return pi;
}

START_TEST(build_v4)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.2", 51820);
	union ctl c;
	struct in_pktinfo got;
	struct cmsghdr *cm = (struct cmsghdr *)c.buf;

	memset(&c, 0xaa, sizeof(c));
	ep.has_src = true;
	ep.src_ifindex = 5;
	inet_pton(AF_INET, "127.0.0.1", &ep.src.in4);
	ck_assert_uint_eq(vg_sticky_build(&ep, c.buf, sizeof(c.buf)),
			  CMSG_SPACE(sizeof(struct in_pktinfo)));
	ck_assert_int_eq(cm->cmsg_level, IPPROTO_IP);
	ck_assert_int_eq(cm->cmsg_type, IP_PKTINFO);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(struct in_pktinfo)));
	memcpy(&got, CMSG_DATA(cm), sizeof(got));
	ck_assert_uint_eq(got.ipi_spec_dst.s_addr, htonl(INADDR_LOOPBACK));
	ck_assert_int_eq(got.ipi_ifindex, 0);	/* the routes decide */
	ck_assert_uint_eq(got.ipi_addr.s_addr, 0);
}
END_TEST

START_TEST(build_v6)
{
	struct vg_endpoint ep = vg_test_ep("fd00::2", 51820);
	union ctl c;
	struct in6_pktinfo got;
	struct cmsghdr *cm = (struct cmsghdr *)c.buf;

	ep.has_src = true;
	ep.src_ifindex = 5;
	ep.src.in6 = in6addr_loopback;
	ck_assert_uint_eq(vg_sticky_build(&ep, c.buf, sizeof(c.buf)),
			  CMSG_SPACE(sizeof(struct in6_pktinfo)));
	ck_assert_uint_le(CMSG_SPACE(sizeof(struct in6_pktinfo)), vg_sticky_cmsg_space());
	ck_assert_int_eq(cm->cmsg_level, IPPROTO_IPV6);
	ck_assert_int_eq(cm->cmsg_type, IPV6_PKTINFO);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(struct in6_pktinfo)));
	memcpy(&got, CMSG_DATA(cm), sizeof(got));
	ck_assert_mem_eq(&got.ipi6_addr, &in6addr_loopback, 16);
	ck_assert_uint_eq(got.ipi6_ifindex, 0);	/* the routes decide */
	/* A link-local source means nothing without its interface. */
	inet_pton(AF_INET6, "fe80::1", &ep.src.in6);
	ck_assert_uint_eq(vg_sticky_build(&ep, c.buf, sizeof(c.buf)),
			  CMSG_SPACE(sizeof(struct in6_pktinfo)));
	memcpy(&got, CMSG_DATA(cm), sizeof(got));
	ck_assert_uint_eq(got.ipi6_ifindex, 5);
}
END_TEST

START_TEST(build_nothing)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.2", 1);
	union ctl c;

	/* No source: no control bytes at all. */
	ck_assert_uint_eq(vg_sticky_build(&ep, c.buf, sizeof(c.buf)), 0);
	ep.has_src = true;
	/* Too small a buffer: nothing written rather than a torn cmsg. */
	ck_assert_uint_eq(vg_sticky_build(&ep, c.buf, CMSG_SPACE(sizeof(struct in_pktinfo)) - 1), 0);
	ep.dst.sa.sa_family = AF_UNIX;
	ck_assert_uint_eq(vg_sticky_build(&ep, c.buf, sizeof(c.buf)), 0);
}
END_TEST

START_TEST(parse_v4)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.2", 1);
	struct in_pktinfo pi = pi4("127.0.0.1", 5);
	union ctl c;
	size_t off = 0;
	struct msghdr m;

	add(&c, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	m = msg_of(&c, off);
	ck_assert(vg_sticky_parse(&m, &ep));
	ck_assert(ep.has_src);
	ck_assert_uint_eq(ep.src.in4.s_addr, htonl(INADDR_LOOPBACK));
	ck_assert_uint_eq(ep.src_ifindex, 5);
}
END_TEST

START_TEST(parse_v6)
{
	struct vg_endpoint ep = vg_test_ep("fd00::2", 1);
	struct in6_pktinfo pi = { .ipi6_addr = in6addr_loopback, .ipi6_ifindex = 5 };
	union ctl c;
	size_t off = 0;
	struct msghdr m;

	add(&c, &off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
	m = msg_of(&c, off);
	ck_assert(vg_sticky_parse(&m, &ep));
	ck_assert_mem_eq(&ep.src.in6, &in6addr_loopback, 16);
	ck_assert_uint_eq(ep.src_ifindex, 5);
}
END_TEST

START_TEST(parse_clears_on_empty)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.2", 1);
	union ctl c;
	struct msghdr m = msg_of(&c, 0);

	ep.has_src = true;
	ep.src_ifindex = 7;
	ep.src.in4.s_addr = htonl(0x7f000002);
	ck_assert(!vg_sticky_parse(&m, &ep));
	ck_assert(!ep.has_src);
	ck_assert_uint_eq(ep.src_ifindex, 0);
	ck_assert_uint_eq(ep.src.in4.s_addr, 0);
}
END_TEST

START_TEST(parse_multiple)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.2", 1);
	struct in_pktinfo pi = pi4("127.0.0.2", 3), other = pi4("127.0.0.9", 9);
	struct timeval tv = { 1, 2 };
	union ctl c;
	size_t off = 0;
	struct msghdr m;

	/* An empty cmsg, an unknown one, then the first PKTINFO wins. */
	add(&c, &off, SOL_SOCKET, 0x7777, NULL, 0);
	add(&c, &off, SOL_SOCKET, SO_TIMESTAMP, &tv, sizeof(tv));
	add(&c, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	add(&c, &off, IPPROTO_IP, IP_PKTINFO, &other, sizeof(other));
	m = msg_of(&c, off);
	ck_assert(vg_sticky_parse(&m, &ep));
	ck_assert_uint_eq(ep.src.in4.s_addr, htonl(0x7f000002));
	ck_assert_uint_eq(ep.src_ifindex, 3);
}
END_TEST

START_TEST(parse_wrong_family)
{
	struct vg_endpoint ep = vg_test_ep("fd00::2", 1);
	struct in_pktinfo pi = pi4("127.0.0.2", 3);
	union ctl c;
	size_t off = 0;
	struct msghdr m;

	add(&c, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	m = msg_of(&c, off);
	ck_assert(!vg_sticky_parse(&m, &ep));
	ck_assert(!ep.has_src);
}
END_TEST

START_TEST(parse_truncated)
{
	struct vg_endpoint ep = vg_test_ep("10.0.0.2", 1);
	struct in_pktinfo pi = pi4("127.0.0.2", 3);
	struct timeval tv = { 1, 2 };
	union ctl c;
	size_t off = 0, first;
	struct msghdr m;
	struct cmsghdr *cm;

	add(&c, &off, SOL_SOCKET, SO_TIMESTAMP, &tv, sizeof(tv));
	first = off;
	add(&c, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	/* msg_controllen ends inside the PKTINFO: it must not be read (the
	 * kernel may leave out the last cmsg's padding, so that is fine). */
	for (size_t cut = 0; cut < first + CMSG_LEN(sizeof(pi)); cut++) {
		m = msg_of(&c, cut);
		ck_assert_msg(!vg_sticky_parse(&m, &ep), "found with controllen %zu", cut);
	}
	m = msg_of(&c, first + CMSG_LEN(sizeof(pi)));
	ck_assert(vg_sticky_parse(&m, &ep));
	m = msg_of(&c, off);
	ck_assert(vg_sticky_parse(&m, &ep));
	/* A cmsg_len claiming more than there is ends the walk. */
	cm = (struct cmsghdr *)(c.buf + first);
	cm->cmsg_len = off - first + 64;
	ck_assert(!vg_sticky_parse(&m, &ep));
	/* A zero cmsg_len first must not loop forever. */
	cm = (struct cmsghdr *)c.buf;
	cm->cmsg_len = 0;
	ck_assert(!vg_sticky_parse(&m, &ep));
}
END_TEST

START_TEST(gro_size_int)
{
	struct in_pktinfo pi = pi4("127.0.0.2", 3);
	union ctl c;
	size_t off = 0;
	struct msghdr m;
	int gso = 0x10000 + 1452;	/* an int: reading 2 bytes would give 1452 */
	short small = 1452;

	m = msg_of(&c, 0);
	ck_assert_int_eq(vg_cmsg_gro_size(&m), 0);
	add(&c, &off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	add(&c, &off, SOL_UDP, UDP_GRO, &gso, sizeof(gso));
	m = msg_of(&c, off);
	ck_assert_int_eq(vg_cmsg_gro_size(&m), 0x10000 + 1452);
	/* A cmsg too short for an int is not read. */
	off = 0;
	add(&c, &off, SOL_UDP, UDP_GRO, &small, sizeof(small));
	m = msg_of(&c, off);
	ck_assert_int_eq(vg_cmsg_gro_size(&m), 0);
}
END_TEST

START_TEST(put_gso_after_sticky)
{
	struct vg_endpoint ep = vg_test_ep("fd00::2", 1);
	union ctl c;
	size_t len;
	struct msghdr m;
	struct cmsghdr *cm;
	uint16_t v;

	ep.has_src = true;
	ep.src.in6 = in6addr_loopback;
	ep.src_ifindex = 1;
	len = vg_sticky_build(&ep, c.buf, sizeof(c.buf));
	ck_assert_uint_eq(vg_cmsg_put_gso(c.buf + len, 3, 1452), 0);
	len += vg_cmsg_put_gso(c.buf + len, sizeof(c.buf) - len, 1452);
	ck_assert_uint_eq(len, CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)));
	m = msg_of(&c, len);
	cm = CMSG_FIRSTHDR(&m);
	ck_assert_int_eq(cm->cmsg_type, IPV6_PKTINFO);
	cm = CMSG_NXTHDR(&m, cm);
	ck_assert_ptr_nonnull(cm);
	ck_assert_int_eq(cm->cmsg_level, SOL_UDP);
	ck_assert_int_eq(cm->cmsg_type, UDP_SEGMENT);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(uint16_t)));
	memcpy(&v, CMSG_DATA(cm), sizeof(v));
	ck_assert_uint_eq(v, 1452);
	ck_assert_ptr_null(CMSG_NXTHDR(&m, cm));
}
END_TEST

START_TEST(endpoint_helpers)
{
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6, .sin6_port = htons(51820) };
	struct sockaddr_in6 six = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct vg_endpoint a, b;
	char s[VG_ENDPOINT_STRLEN];

	inet_pton(AF_INET6, "::ffff:192.0.2.7", &mapped.sin6_addr);
	ck_assert_int_eq(vg_endpoint_from_sockaddr(&a, (struct sockaddr *)&mapped, sizeof(mapped)), 0);
	ck_assert_int_eq(vg_endpoint_family(&a), AF_INET);
	ck_assert_str_eq(vg_endpoint_format(&a, s, sizeof(s)), "192.0.2.7:51820");
	b = vg_test_ep("192.0.2.7", 51820);
	b.has_src = true;
	ck_assert(vg_endpoint_dst_equal(&a, &b));
	b.dst.in4.sin_port = htons(1);
	ck_assert(!vg_endpoint_dst_equal(&a, &b));
	inet_pton(AF_INET6, "fd00::1", &six.sin6_addr);
	ck_assert_int_eq(vg_endpoint_from_sockaddr(&a, (struct sockaddr *)&six, sizeof(six)), 0);
	ck_assert_str_eq(vg_endpoint_format(&a, s, sizeof(s)), "[fd00::1]:443");
	ck_assert_int_eq(vg_endpoint_from_sockaddr(&a, (struct sockaddr *)&six, 8), -EINVAL);
	six.sin6_family = AF_UNIX;
	ck_assert_int_eq(vg_endpoint_from_sockaddr(&a, (struct sockaddr *)&six, sizeof(six)),
			 -EAFNOSUPPORT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sticky");
	TCase *tc = tcase_create("cmsg");

	tcase_add_test(tc, build_v4);
	tcase_add_test(tc, build_v6);
	tcase_add_test(tc, build_nothing);
	tcase_add_test(tc, parse_v4);
	tcase_add_test(tc, parse_v6);
	tcase_add_test(tc, parse_clears_on_empty);
	tcase_add_test(tc, parse_multiple);
	tcase_add_test(tc, parse_wrong_family);
	tcase_add_test(tc, parse_truncated);
	tcase_add_test(tc, gro_size_int);
	tcase_add_test(tc, put_gso_after_sticky);
	tcase_add_test(tc, endpoint_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
