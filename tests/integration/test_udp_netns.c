// SPDX-License-Identifier: MIT
/*
 * The bind's fallbacks against the real kernel, each test in a private
 * network namespace (root, or an unprivileged user namespace; skipped
 * without either):
 *   - a route through a TUN device without checksum offload: kernels
 *     before 6.11 refuse UDP_SEGMENT there with EIO (GSO turns off, nothing
 *     is lost), newer ones segment in software; either way every datagram
 *     is handed over (the EIO path itself is pinned by the seam tests);
 *   - loopback with a 1280-byte MTU refuses 1452-byte segments (EMSGSIZE,
 *     or EINVAL before Linux 6.14): the batch goes out unsegmented and
 *     arrives whole, and smaller segments still use GSO;
 *   - SO_MARK is set at open and changed at run time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn/bind.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

static uint8_t tx[200][1500];
static uint8_t rx[128][2048];

static void quiet(void *arg, const char *msg)
{
}

static bool sh(const char *cmd)
{
	char full[512];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	return system(full) == 0;
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

/* Unprivileged: a user namespace where we are root, so the ip(8) commands
 * we exec keep their capabilities. */
static bool user_netns(void)
{
	char map[64];
	unsigned int uid = getuid(), gid = getgid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return false;
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (!write_file("/proc/self/uid_map", map))
		return false;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	return write_file("/proc/self/gid_map", map);
}

/* true when we now run in a namespace of our own with lo up. */
static bool private_netns(void)
{
	if (unshare(CLONE_NEWNET) && !user_netns())
		return false;
	return sh("ip link set lo up");
}

#define NEED_NETNS()                                                                  \
	do {                                                                          \
		if (!private_netns()) {                                               \
			fprintf(stderr, "%s: no private network namespace, skipped\n", \
				__func__);                                            \
			return;                                                       \
		}                                                                     \
	} while (0)

static void batch(struct iovec *iov, unsigned int n, size_t size, uint32_t seq0)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t seq = seq0 + i;

		memset(tx[i], (int)(seq * 7), size);
		memcpy(tx[i], &seq, 4);
		iov[i].iov_base = tx[i];
		iov[i].iov_len = size;
	}
}

static void expect(struct vg_bind *b, unsigned int n, size_t size, uint32_t seq0)
{
	struct pollfd pfd = { .fd = vg_bind_fd(b, AF_INET), .events = POLLIN };
	struct vg_rx_pkt p[128];
	unsigned int got = 0;

	while (got < n) {
		int k;

		for (int i = 0; i < 128; i++) {
			p[i].data = rx[i];
			p[i].cap = sizeof(rx[i]);
		}
		k = vg_bind_recv(b, AF_INET, p, n - got < 128 ? n - got : 128);
		ck_assert_int_ge(k, 0);
		if (!k) {
			ck_assert_msg(poll(&pfd, 1, 2000) == 1, "got %u of %u", got, n);
			continue;
		}
		for (int i = 0; i < k; i++, got++) {
			uint32_t seq;

			ck_assert_uint_eq(p[i].len, size);
			memcpy(&seq, p[i].data, 4);
			ck_assert_uint_eq(seq, seq0 + got);
			ck_assert_uint_eq(p[i].data[size - 1], (uint8_t)(seq * 7));
		}
	}
}

START_TEST(gso_eio_real)
{
	struct vg_bind_config c = { .log = quiet };
	struct vg_bind *a;
	struct vg_bind_stats s;
	struct iovec iov[100];
	struct vg_endpoint ep = vg_test_ep("10.203.0.2", 9);

	NEED_NETNS();
	if (!sh("ip tuntap add dev vgt0 mode tun") || !sh("ip addr add 10.203.0.1/24 dev vgt0") ||
	    !sh("ip link set vgt0 up")) {
		fprintf(stderr, "gso_eio_real: cannot make a TUN device, skipped\n");
		return;
	}
	ck_assert_int_eq(vg_bind_open(&a, &c), 0);
	ck_assert(vg_bind_offloads(a) & VG_BIND_GSO4);
	batch(iov, 100, 1452, 0);
	/* The TUN has no reader: the datagrams are dropped there, but each
	 * must have been handed to the kernel. */
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 100, NULL), 100);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_packets, 100);
	ck_assert_uint_eq(s.tx_errors + s.tx_unreachable, 0);
	if (s.tx_gso_eio) {
		ck_assert_uint_eq(s.tx_gso_eio, 1);
		ck_assert_uint_eq(s.tx_gso_msgs, 0);
		ck_assert_uint_eq(vg_bind_offloads(a) & VG_BIND_GSO4, 0);
		ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO4), VG_BIND_REASON_EIO);
	} else {
		ck_assert_uint_gt(s.tx_gso_msgs, 0);
		ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO4), VG_BIND_REASON_ON);
	}
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 100, NULL), 100);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_le(s.tx_gso_eio, 1);
	ck_assert_uint_eq(s.tx_packets, 200);
	vg_bind_close(a);
}
END_TEST

START_TEST(gso_too_big_real)
{
	struct vg_bind_config c = { .log = quiet };
	struct vg_bind *a, *b;
	struct vg_bind_stats s;
	struct iovec iov[100];
	struct vg_endpoint ep;

	NEED_NETNS();
	ck_assert(sh("ip link set lo mtu 1280"));
	ck_assert_int_eq(vg_bind_open(&a, &c), 0);
	ck_assert_int_eq(vg_bind_open(&b, &c), 0);
	ep = vg_test_ep("127.0.0.1", vg_bind_port(b));
	batch(iov, 100, 1452, 0);
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 100, NULL), 100);
	expect(b, 100, 1452, 0);	/* fragmented and reassembled, all there */
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_gso_emsgsize + s.tx_gso_einval, 1);
	ck_assert_uint_eq(s.tx_gso_msgs, 0);
	/* Remembered: the next batch of that size does not hit the error. */
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 100, NULL), 100);
	expect(b, 100, 1452, 0);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_gso_emsgsize + s.tx_gso_einval, 1);
	/* GSO stays on for segments the path takes. */
	ck_assert(vg_bind_offloads(a) & VG_BIND_GSO4);
	batch(iov, 100, 1000, 500);
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 100, NULL), 100);
	expect(b, 100, 1000, 500);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_gt(s.tx_gso_msgs, 0);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

static uint32_t mark_of(int fd)
{
	uint32_t mark = 0;
	socklen_t len = sizeof(mark);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len), 0);
	return mark;
}

START_TEST(fwmark)
{
	struct vg_bind_config c = { .log = quiet, .fwmark = 0x51820 };
	struct vg_bind *a;

	NEED_NETNS();
	ck_assert_int_eq(vg_bind_open(&a, &c), 0);
	ck_assert_uint_eq(mark_of(vg_bind_fd(a, AF_INET)), 0x51820);
	if (vg_bind_fd(a, AF_INET6) >= 0)
		ck_assert_uint_eq(mark_of(vg_bind_fd(a, AF_INET6)), 0x51820);
	ck_assert_int_eq(vg_bind_set_fwmark(a, 0x1234), 0);
	ck_assert_uint_eq(mark_of(vg_bind_fd(a, AF_INET)), 0x1234);
	/* A rebind keeps the mark. */
	ck_assert_int_eq(vg_bind_rebind(a, 0), 0);
	ck_assert_uint_eq(mark_of(vg_bind_fd(a, AF_INET)), 0x1234);
	ck_assert_int_eq(vg_bind_set_fwmark(a, 0), 0);
	ck_assert_uint_eq(mark_of(vg_bind_fd(a, AF_INET)), 0);
	vg_bind_close(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("udp_netns");
	TCase *tc = tcase_create("netns");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gso_eio_real);
	tcase_add_test(tc, gso_too_big_real);
	tcase_add_test(tc, fwmark);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Each test unshares its own namespace: it needs its own process. */
	return vg_test_run(suite(), true);
}
