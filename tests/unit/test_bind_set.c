/* SPDX-License-Identifier: MIT */
/*
 * A set that moves the UDP port or changes the fwmark is all or nothing:
 * when any SO_MARK or the port move fails, every queue's sockets keep the
 * port and the mark they had, the set answers -EADDRINUSE (as wireguard-go
 * does for both) and get reports the old configuration.  The in-memory
 * network refuses SO_MARK on demand (vg_memnet_set_mark_hook); the Linux
 * bind through its syscall seam.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <sodium.h>

#include "conn/bind.h"
#include "device/device.h"
#include "device/uapi.h"
#include "tests/unit/testutil.h"
#include "tun/tun.h"

#define QUEUES 3
#define PORT 51820
#define PORT2 51830

static struct vg_memnet *net;
static struct device *dev;

/* SO_MARK number fail_at (1-based, counted over every bind) is refused. */
static unsigned int marks_seen, fail_at;
static int fail_queue = -1;

static int mark_hook(void *arg, unsigned int queue, uint32_t mark)
{
	(void)arg;
	(void)mark;
	if (++marks_seen == fail_at || (int)queue == fail_queue)
		return -EPERM;
	return 0;
}

static int set(const char *req)
{
	struct uapi_txn txn;
	int ret;

	memset(&txn, 0, sizeof(txn));
	ck_assert_int_eq(uapi_parse_set(&txn, req, strlen(req)), 0);
	ret = device_uapi_ops.set(dev, &txn);
	uapi_txn_clear(&txn);
	return ret;
}

static void setup(void)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };
	struct tun *tun;

	net = vg_memnet_new();
	ck_assert_ptr_nonnull(net);
	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = QUEUES;
	ck_assert_int_eq(tun_mem_open(&tun, "vgs", &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	ck_assert_int_eq(device_new(&dev, tun, &o), 0);
	ck_assert_int_eq(device_start(dev), 0);
	ck_assert_int_eq(tun_mem_push_event(tun, &up), 0);
	for (int i = 0; i < 2000 && !device_port(dev); i++)
		usleep(1000);
	ck_assert_uint_ne(device_port(dev), 0);
	ck_assert_int_eq(set("listen_port=51820"), 0);
	marks_seen = fail_at = 0;
	fail_queue = -1;
	vg_memnet_set_mark_hook(net, mark_hook, NULL);
}

static void teardown(void)
{
	device_free(dev);
	vg_memnet_free(net);
}

/* Every queue's sockets, and what get reports, are on port and mark. */
static void expect(uint16_t port, uint32_t mark)
{
	struct vg_memnet_info info[2 * QUEUES];
	struct uapi_snapshot snap;
	unsigned int n, i, seen = 0;

	/* Replaced sockets close once no worker is inside a call on them
	 * (doc/architecture.md, "Configuration"): a busy worker delays it. */
	for (i = 0; (n = vg_memnet_list(net, info, 2 * QUEUES)) != QUEUES && i < 2000; i++)
		usleep(1000);
	ck_assert_uint_eq(n, QUEUES);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(info[i].port, port);
		ck_assert_uint_eq(info[i].fwmark, mark);
		seen |= 1u << info[i].queue;
	}
	ck_assert_uint_eq(seen, (1u << QUEUES) - 1);
	ck_assert_uint_eq(device_port(dev), port);
	memset(&snap, 0, sizeof(snap));
	ck_assert_int_eq(device_uapi_ops.get(dev, &snap), 0);
	ck_assert_uint_eq(snap.listen_port, port);
	ck_assert_uint_eq(snap.fwmark, mark);
	uapi_snapshot_clear(&snap);
}

/* A mark one queue refuses is taken back from the queues before it. */
START_TEST(test_mark_refused_on_one_queue)
{
	fail_queue = 1;
	ck_assert_int_eq(set("fwmark=7"), UAPI_ERR_PORT_IN_USE);
	expect(PORT, 0);
	fail_queue = -1;
	ck_assert_int_eq(set("fwmark=7"), 0);
	expect(PORT, 7);
	fail_queue = 2;
	ck_assert_int_eq(set("fwmark=9"), UAPI_ERR_PORT_IN_USE);
	expect(PORT, 7);
}
END_TEST

/* Port and mark together: each SO_MARK of the set fails in turn, on the
 * old sockets or on the new port's, and each failure leaves everything as
 * it was, until the set goes through whole. */
static void sweep(const char *req)
{
	unsigned int n;

	for (n = 1; n < 64; n++) {
		marks_seen = 0;
		fail_at = n;
		if (!set(req))
			break;
		expect(PORT, 0);
	}
	ck_assert_uint_gt(n, QUEUES);	/* some failures came after the mark was on */
	ck_assert_uint_lt(n, 64);
	fail_at = 0;
	expect(PORT2, 7);
}

START_TEST(test_port_and_mark_each_step_fails)
{
	sweep("listen_port=51830\nfwmark=7");
}
END_TEST

START_TEST(test_mark_and_port_each_step_fails)
{
	sweep("fwmark=7\nlisten_port=51830");
}
END_TEST

/* The port move fails: every queue keeps its port and its old mark. */
START_TEST(test_port_taken_after_mark)
{
	struct vg_bind_config c = { .port = PORT2 };
	struct vg_bind *squatter;

	ck_assert_int_eq(vg_bind_open_mem(&squatter, net, &c), 0);
	ck_assert_int_eq(set("listen_port=51830\nfwmark=7"), UAPI_ERR_PORT_IN_USE);
	vg_bind_close(squatter);
	expect(PORT, 0);
	ck_assert_int_eq(set("listen_port=51830\nfwmark=7"), 0);
	expect(PORT2, 7);
}
END_TEST

/* The store's contract, with hooks that only record. */
static char calls[256];

static int rec_port(void *arg, uint16_t *port, uint32_t mark)
{
	size_t n = strlen(calls);

	(void)arg;
	snprintf(calls + n, sizeof(calls) - n, "port %u mark %u;", *port, mark);
	return *port == 2000 ? -EADDRINUSE : 0;
}

static int rec_mark(void *arg, uint32_t mark)
{
	size_t n = strlen(calls);

	(void)arg;
	snprintf(calls + n, sizeof(calls) - n, "mark %u;", mark);
	return mark == 9 ? -EPERM : 0;
}

static int store_set(struct uapi_store *st, const char *req)
{
	struct uapi_txn txn;
	int ret;

	memset(&txn, 0, sizeof(txn));
	ck_assert_int_eq(uapi_parse_set(&txn, req, strlen(req)), 0);
	calls[0] = 0;
	ret = uapi_store_apply(st, &txn);
	uapi_txn_clear(&txn);
	return ret;
}

START_TEST(test_store_hook_order)
{
	struct uapi_store st;

	uapi_store_init(&st);
	st.bind_port = rec_port;
	st.set_mark = rec_mark;
	ck_assert_int_eq(store_set(&st, "listen_port=1000\nfwmark=5"), 0);
	ck_assert_str_eq(calls, "mark 5;port 1000 mark 5;");
	/* The port fails after the mark: the old mark goes back. */
	ck_assert_int_eq(store_set(&st, "listen_port=2000\nfwmark=6"), UAPI_ERR_PORT_IN_USE);
	ck_assert_str_eq(calls, "mark 6;port 2000 mark 6;mark 5;");
	/* The mark fails: the port is not touched. */
	ck_assert_int_eq(store_set(&st, "listen_port=3000\nfwmark=9"), UAPI_ERR_PORT_IN_USE);
	ck_assert_str_eq(calls, "mark 9;");
	/* A port alone opens its sockets with the mark in force. */
	ck_assert_int_eq(store_set(&st, "listen_port=3000"), 0);
	ck_assert_str_eq(calls, "port 3000 mark 5;");
	ck_assert_uint_eq(st.listen_port, 3000);
	ck_assert_uint_eq(st.fwmark, 5);
	uapi_store_free(&st);
}
END_TEST

/* The Linux bind: the IPv6 socket refuses the mark, so the IPv4 socket,
 * marked a moment before, gets its old mark back. */
struct so_mark_log {
	int fd4, fd6;
	char text[128];
};

static int fake_setsockopt(void *arg, int fd, int level, int opt, const void *val,
			   socklen_t len)
{
	struct so_mark_log *l = arg;
	size_t n = strlen(l->text);
	int mark;

	ck_assert_int_eq(level, SOL_SOCKET);
	ck_assert_int_eq(opt, SO_MARK);
	ck_assert_uint_eq(len, sizeof(int));
	memcpy(&mark, val, sizeof(mark));
	snprintf(l->text + n, sizeof(l->text) - n, "%s=%d;", fd == l->fd6 ? "v6" : "v4", mark);
	if (fd == l->fd6 && mark == 7) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

START_TEST(test_linux_both_sockets_or_neither)
{
	struct vg_bind_config c = { .port = 0 };
	struct so_mark_log l = { .text = "" };
	struct vg_bind_syscalls sc = { .setsockopt = fake_setsockopt, .arg = &l };
	struct vg_bind *b;

	if (vg_bind_open(&b, &c))
		return;	/* no UDP here at all */
	l.fd4 = vg_bind_fd(b, AF_INET);
	l.fd6 = vg_bind_fd(b, AF_INET6);
	if (l.fd4 < 0 || l.fd6 < 0) {
		vg_bind_close(b);
		return;	/* one family only: nothing to undo */
	}
	vg_bind_set_syscalls(b, &sc);
	ck_assert_int_eq(vg_bind_set_fwmark(b, 5), 0);
	ck_assert_str_eq(l.text, "v4=5;v6=5;");
	ck_assert_uint_eq(vg_bind_fwmark(b), 5);
	l.text[0] = 0;
	ck_assert_int_eq(vg_bind_set_fwmark(b, 7), -EPERM);
	ck_assert_str_eq(l.text, "v4=7;v6=7;v4=5;");
	ck_assert_uint_eq(vg_bind_fwmark(b), 5);
	vg_bind_close(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bind_set");
	TCase *dev_tc = tcase_create("device");
	TCase *tc = tcase_create("pieces");

	tcase_add_checked_fixture(dev_tc, setup, teardown);
	tcase_add_test(dev_tc, test_mark_refused_on_one_queue);
	tcase_add_test(dev_tc, test_port_and_mark_each_step_fails);
	tcase_add_test(dev_tc, test_mark_and_port_each_step_fails);
	tcase_add_test(dev_tc, test_port_taken_after_mark);
	suite_add_tcase(s, dev_tc);
	tcase_add_test(tc, test_store_hook_order);
	tcase_add_test(tc, test_linux_both_sockets_or_neither);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(suite(), false);
}
