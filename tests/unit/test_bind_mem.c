// SPDX-License-Identifier: MIT
/* The in-memory bind: same interface, coalescing like the kernel. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "conn/bind.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

static uint8_t tx[200][1500];
static uint8_t rx[128][2048];

static void quiet(void *arg, const char *msg)
{
}

static void slots(struct vg_rx_pkt *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		p[i].data = rx[i];
		p[i].cap = sizeof(rx[i]);
	}
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

START_TEST(exchange)
{
	struct vg_memnet *net = vg_memnet_new();
	struct vg_bind_config c = { .log = quiet };
	struct vg_bind *a, *b;
	struct vg_endpoint ep;
	struct iovec iov[200];
	struct vg_rx_pkt p[128];
	struct vg_bind_stats sa, sb;
	unsigned int got = 0;

	ck_assert_int_eq(vg_bind_open_mem(&a, net, &c), 0);
	ck_assert_int_eq(vg_bind_open_mem(&b, net, &c), 0);
	ck_assert_uint_ne(vg_bind_port(a), vg_bind_port(b));
	ck_assert(!readable(vg_bind_fd(b, AF_INET)));
	for (int i = 0; i < 200; i++) {
		size_t len = i == 199 ? 700 : 1452 - (size_t)(i >= 100) * 452;

		memset(tx[i], i, len);
		iov[i].iov_base = tx[i];
		iov[i].iov_len = len;
	}
	ep = vg_test_ep("127.0.0.2", vg_bind_port(b));
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 200, NULL), 200);
	ck_assert(readable(vg_bind_fd(b, AF_INET)));
	while (got < 200) {
		int n;

		slots(p, 128);
		n = vg_bind_recv(b, AF_INET, p, 128);
		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++, got++) {
			ck_assert_uint_eq(p[i].len, iov[got].iov_len);
			ck_assert_mem_eq(p[i].data, tx[got], p[i].len);
			/* The sender as b sees it, and where it was sent to. */
			ck_assert_uint_eq(ntohs(p[i].ep.dst.in4.sin_port), vg_bind_port(a));
			ck_assert(p[i].ep.has_src);
			ck_assert_uint_eq(p[i].ep.src.in4.s_addr, htonl(0x7f000002));
		}
	}
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, p, 128), 0);
	ck_assert(!readable(vg_bind_fd(b, AF_INET)));
	vg_bind_get_stats(a, &sa);
	vg_bind_get_stats(b, &sb);
	ck_assert_uint_eq(sa.tx_packets, 200);
	ck_assert_uint_eq(sb.rx_packets, 200);
	ck_assert_uint_gt(sb.rx_gro_batches, 0);
	ck_assert_uint_gt(sa.tx_gso_msgs, 0);

	/* Reply with the sticky source: a sees it as the sender address. */
	{
		struct vg_endpoint back = p[0].ep;

		slots(p, 1);
		ck_assert_int_eq(vg_bind_send(b, &back, iov, 1, NULL), 1);
		ck_assert_int_eq(vg_bind_recv(a, AF_INET, p, 1), 1);
		ck_assert_uint_eq(p[0].ep.dst.in4.sin_addr.s_addr, htonl(0x7f000002));
	}
	vg_bind_close(a);
	vg_bind_close(b);
	vg_memnet_free(net);
}
END_TEST

START_TEST(gro_off_and_ports)
{
	struct vg_memnet *net = vg_memnet_new();
	struct vg_bind_config c = { .log = quiet, .no_gro = true };
	struct vg_bind *a, *b, *dup;
	struct vg_endpoint ep;
	struct iovec iov[10];
	struct vg_rx_pkt p[10];
	struct vg_bind_stats sb;

	ck_assert_int_eq(vg_bind_open_mem(&b, net, &c), 0);
	c.no_gro = false;
	ck_assert_int_eq(vg_bind_open_mem(&a, net, &c), 0);
	c.port = vg_bind_port(b);
	ck_assert_int_eq(vg_bind_open_mem(&dup, net, &c), -EADDRINUSE);
	for (int i = 0; i < 10; i++) {
		iov[i].iov_base = tx[i];
		iov[i].iov_len = 100;
	}
	ep = vg_test_ep("127.0.0.2", vg_bind_port(b));
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 10, NULL), 10);
	slots(p, 10);
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, p, 10), 10);
	vg_bind_get_stats(b, &sb);
	ck_assert_uint_eq(sb.rx_gro_batches, 0);
	/* Rebind moves b; the old port no longer reaches it. */
	ck_assert_int_eq(vg_bind_rebind(b, vg_bind_port(a)), -EADDRINUSE);
	ck_assert_int_eq(vg_bind_rebind(b, 0), 0);
	ck_assert_uint_ne(vg_bind_port(b), ntohs(ep.dst.in4.sin_port));
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 1, NULL), 1);
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, p, 10), 0);
	ep = vg_test_ep("127.0.0.2", vg_bind_port(b));
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 1, NULL), 1);
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, p, 10), 1);
	vg_bind_close(a);
	vg_bind_close(b);
	vg_memnet_free(net);
}
END_TEST

START_TEST(group_affinity)
{
	struct vg_memnet *net = vg_memnet_new();
	struct vg_bind_config c = { .log = quiet, .queues = 3 };
	struct vg_bind *g[3], *cl;
	struct vg_endpoint ep;
	struct iovec iov = { .iov_base = tx[0], .iov_len = 10 };
	struct vg_rx_pkt p[10];
	int hits = 0, where = -1;

	/* Group members on a memnet share a port. */
	for (unsigned int i = 0; i < 3; i++) {
		c.queue = i;
		c.port = i ? vg_bind_port(g[0]) : 0;
		ck_assert_int_eq(vg_bind_open_mem(&g[i], net, &c), 0);
	}
	c = (struct vg_bind_config){ .log = quiet };
	ck_assert_int_eq(vg_bind_open_mem(&cl, net, &c), 0);
	ep = vg_test_ep("127.0.0.2", vg_bind_port(g[0]));
	for (int k = 0; k < 5; k++)
		ck_assert_int_eq(vg_bind_send(cl, &ep, &iov, 1, NULL), 1);
	for (int i = 0; i < 3; i++) {
		int n;

		slots(p, 10);
		n = vg_bind_recv(g[i], AF_INET, p, 10);
		if (n) {
			ck_assert_int_eq(where, -1);
			where = i;
			hits += n;
		}
	}
	ck_assert_int_eq(hits, 5);
	vg_bind_close(cl);
	vg_bind_group_close(g, 3);
	vg_memnet_free(net);
}
END_TEST

/* The reasons are values; their text (in logs) stays what it always was. */
START_TEST(offload_reasons)
{
	static const char *const text[VG_BIND_REASON_COUNT] = {
		[VG_BIND_REASON_NO_SOCKET] = "off (no socket)",
		[VG_BIND_REASON_ON] = "on",
		[VG_BIND_REASON_SWITCH] = "off (switch)",
		[VG_BIND_REASON_KERNEL] = "off (kernel)",
		[VG_BIND_REASON_EIO] = "off (EIO)",
		[VG_BIND_REASON_NO_MEMORY] = "off (no memory)",
		[VG_BIND_REASON_UNKNOWN] = "unknown",
	};
	struct vg_memnet *net = vg_memnet_new();
	struct vg_bind_config c = { .log = quiet, .no_gro = true };
	struct vg_bind *a;

	for (int r = 0; r < VG_BIND_REASON_COUNT; r++)
		ck_assert_str_eq(vg_bind_offload_reason_text(r), text[r]);
	ck_assert_str_eq(vg_bind_offload_reason_text(VG_BIND_REASON_COUNT), "unknown");
	ck_assert_int_eq(vg_bind_open_mem(&a, net, &c), 0);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO4), VG_BIND_REASON_ON);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GRO6), VG_BIND_REASON_SWITCH);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO), VG_BIND_REASON_UNKNOWN);
	ck_assert_int_eq(vg_bind_offload_state(a, 0), VG_BIND_REASON_UNKNOWN);
	ck_assert_int_eq(vg_bind_set_offload(a, VG_BIND_GSO, false), 0);
	ck_assert_int_eq(vg_bind_set_offload(a, VG_BIND_GRO, true), 0);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO6), VG_BIND_REASON_SWITCH);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GRO4), VG_BIND_REASON_ON);
	ck_assert_uint_eq(vg_bind_offloads(a), VG_BIND_GRO);
	vg_bind_close(a);
	vg_memnet_free(net);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bind_mem");
	TCase *tc = tcase_create("mem");

	tcase_add_test(tc, exchange);
	tcase_add_test(tc, gro_off_and_ports);
	tcase_add_test(tc, group_affinity);
	tcase_add_test(tc, offload_reasons);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
