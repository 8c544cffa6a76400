// SPDX-License-Identifier: MIT
/*
 * The Linux bind over loopback (no root) with faults injected at the real
 * system calls (-Wl,--wrap seams, tests/unit/wrap_mmsg.h): every refused
 * datagram is counted exactly, each kind of failure is logged once, a
 * socket that keeps refusing writes gives up within a second without
 * spinning, and a socket closed or replaced underneath is forgotten, never
 * used or closed again, and reported so the caller reopens the bind.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conn/bind.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"
#include "tests/unit/wrap_mmsg.h"

#define SLOT 2048
#define N 100


/* What the next calls on fd do: fail `times` times (-1: for ever) with err,
 * after `after` calls that go through. */
struct fault {
	int fd, err, times, after;
	unsigned int calls, injected;
};
static struct fault tx_fault = { .fd = -1 }, rx_fault = { .fd = -1 };

static bool inject(struct fault *f, int fd)
{
	if (fd != f->fd || !f->times)
		return false;
	f->calls++;
	if (f->after > 0) {
		f->after--;
		return false;
	}
	if (f->times > 0)
		f->times--;
	f->injected++;
	errno = f->err;
	return true;
}

int WRAP_SENDMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	if (inject(&tx_fault, fd))
		return -1;
	return REAL_SENDMMSG(fd, m, n, flags);
}

int WRAP_RECVMMSG(int fd, struct mmsghdr *m, unsigned int n, int flags, struct timespec *t)
{
	if (inject(&rx_fault, fd))
		return -1;
	return REAL_RECVMMSG(fd, m, n, flags, t);
}

static unsigned int log_lines;
static char logs[8][256];

static void count_log(void *arg, const char *msg)
{
	(void)arg;
	snprintf(logs[log_lines % 8], sizeof(logs[0]), "%s", msg);
	log_lines++;
}

static unsigned int logs_with(const char *what)
{
	unsigned int i, n = 0;

	for (i = 0; i < log_lines && i < 8; i++)
		n += strstr(logs[i], what) != NULL;
	return n;
}

static uint8_t txbuf[N][SLOT], rxbuf[VG_BIND_BATCH][SLOT];
static struct vg_bind *a, *b;
static struct vg_endpoint to_b;

static void setup(void)
{
	struct vg_bind_config c = { .log = count_log, .no_ipv6 = true, .no_gso = true };

	log_lines = 0;
	tx_fault = (struct fault){ .fd = -1 };
	rx_fault = (struct fault){ .fd = -1 };
	ck_assert_int_eq(vg_bind_open(&a, &c), 0);
	ck_assert_int_eq(vg_bind_open(&b, &c), 0);
	to_b = vg_test_ep("127.0.0.1", vg_bind_port(b));
}

static void teardown(void)
{
	vg_bind_close(a);
	vg_bind_close(b);
}

/* Sends N datagrams, each carrying its index. */
static int send_batch(void)
{
	struct iovec iov[N];
	unsigned int i;

	for (i = 0; i < N; i++) {
		memset(txbuf[i], (int)i, 200);
		memcpy(txbuf[i], &i, sizeof(i));
		iov[i].iov_base = txbuf[i];
		iov[i].iov_len = 200;
	}
	return vg_bind_send(a, &to_b, iov, N, NULL);
}

/* Everything b receives within a short wait. */
static unsigned int drain(struct vg_bind *r)
{
	struct vg_rx_pkt p[VG_BIND_BATCH];
	struct pollfd pfd = { .fd = vg_bind_fd(r, AF_INET), .events = POLLIN };
	unsigned int got = 0, i;
	int n;

	for (;;) {
		for (i = 0; i < VG_BIND_BATCH; i++)
			p[i] = (struct vg_rx_pkt){ .data = rxbuf[i], .cap = SLOT };
		n = vg_bind_recv(r, AF_INET, p, VG_BIND_BATCH);
		ck_assert_int_ge(n, 0);
		got += (unsigned int)n;
		if (!n && poll(&pfd, 1, 200) <= 0)
			return got;
	}
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ENOBUFS is memory or a device queue short for a moment: one retry after
 * a pause sends the datagram. */
START_TEST(send_enobufs_transient)
{
	struct vg_bind_stats s;

	tx_fault = (struct fault){ .fd = vg_bind_fd(a, AF_INET), .err = ENOBUFS, .times = 1 };
	ck_assert_int_eq(send_batch(), N);
	ck_assert_uint_eq(drain(b), N);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(tx_fault.injected, 1);
	ck_assert_uint_eq(s.tx_packets, N);
	ck_assert_uint_eq(s.tx_errors, 0);
}
END_TEST

/* ENOBUFS that lasts, EIO: the refused message is dropped and counted
 * exactly, the rest of the batch still goes, one log line in all. */
static void persistent(int err)
{
	struct vg_bind_stats s;
	int round;

	for (round = 0; round < 10; round++) {
		tx_fault = (struct fault){ .fd = vg_bind_fd(a, AF_INET), .err = err, .times = 2 };
		ck_assert_int_eq(send_batch(), N);
		ck_assert_uint_eq(drain(b), N - (err == ENOBUFS ? 1 : 2));
	}
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_errors, 10 * (err == ENOBUFS ? 1 : 2));
	ck_assert_uint_eq(s.tx_packets, 10 * N - s.tx_errors);
	ck_assert_uint_eq(log_lines, 1);
	ck_assert_uint_eq(logs_with(strerror(err)), 1);
}

START_TEST(send_enobufs_persistent)
{
	persistent(ENOBUFS);
}
END_TEST

START_TEST(send_eio)
{
	persistent(EIO);
}
END_TEST

START_TEST(send_eagain_transient)
{
	struct vg_bind_stats s;

	tx_fault = (struct fault){ .fd = vg_bind_fd(a, AF_INET), .err = EAGAIN, .times = 3 };
	ck_assert_int_eq(send_batch(), N);
	ck_assert_uint_eq(drain(b), N);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_eagain, 3);
	ck_assert_uint_eq(s.tx_errors, 0);
}
END_TEST

/* A socket that polls writable but refuses every write: the send gives up
 * after about a second, pausing between tries instead of spinning, and
 * counts the rest of the batch as dropped. */
START_TEST(send_eagain_stuck)
{
	struct vg_bind_stats s;
	struct timespec t0, t1;
	double cpu = thread_cpu(), wall;

	tx_fault = (struct fault){ .fd = vg_bind_fd(a, AF_INET), .err = EAGAIN, .times = -1 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(send_batch(), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cpu = thread_cpu() - cpu;
	wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(wall >= 0.9 && wall < 3, "gave up after %.2f s", wall);
	ck_assert_msg(cpu < 0.3 * wall, "%.3f s CPU in %.2f s", cpu, wall);
	ck_assert_uint_eq(drain(b), 0);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_errors, N);
	ck_assert_uint_eq(log_lines, 1);
	/* Writes flow again once the socket takes them. */
	tx_fault.times = 0;
	ck_assert_int_eq(send_batch(), N);
	ck_assert_uint_eq(drain(b), N);
}
END_TEST

/* EMSGSIZE and EINVAL on a UDP_SEGMENT message still resend it without:
 * nothing lost, nothing counted as dropped. */
static void gso_refused(int err)
{
	struct vg_bind_config c = { .log = count_log, .no_ipv6 = true };
	struct vg_bind *g;
	struct vg_bind_stats s;

	ck_assert_int_eq(vg_bind_open(&g, &c), 0);
	vg_bind_close(a);
	a = g;
	if (!(vg_bind_offloads(a) & VG_BIND_GSO4))
		return;	/* no UDP_SEGMENT here: nothing to refuse */
	tx_fault = (struct fault){ .fd = vg_bind_fd(a, AF_INET), .err = err, .times = 1 };
	ck_assert_int_eq(send_batch(), N);
	ck_assert_uint_eq(drain(b), N);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(tx_fault.injected, 1);
	ck_assert_uint_eq(err == EMSGSIZE ? s.tx_gso_emsgsize : s.tx_gso_einval, 1);
	ck_assert_uint_eq(s.tx_errors, 0);
	ck_assert_uint_eq(s.tx_packets, N);
}

START_TEST(send_gso_emsgsize)
{
	gso_refused(EMSGSIZE);
}
END_TEST

START_TEST(send_gso_einval)
{
	gso_refused(EINVAL);
}
END_TEST

/* Closed underneath, and its number reused by someone else's file: the
 * bind drops its fd without touching that file and says so. */
START_TEST(send_ebadf_lost)
{
	struct vg_bind_stats s;
	int fd = vg_bind_fd(a, AF_INET), other = fd, null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_eq(vg_bind_check(a, true), 0);
	close(fd);
	ck_assert_int_eq(send_batch(), -EBADF);
	ck_assert_int_eq(dup2(null, fd), fd);
	close(null);
	ck_assert_int_eq(vg_bind_check(a, false), -EBADF);
	ck_assert_int_eq(vg_bind_fd(a, AF_INET), -1);
	/* Dropped and counted until the caller reopens. */
	ck_assert_int_eq(send_batch(), -EBADF);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_errors, 2 * N);
	ck_assert_uint_eq(logs_with("lost"), 1);
	vg_bind_close(a);
	a = NULL;
	ck_assert_int_ne(fcntl(other, F_GETFD), -1);
	close(other);
}
END_TEST

/* Replaced underneath by a file that is no socket: the receive says so. */
START_TEST(recv_enotsock_lost)
{
	int fd = vg_bind_fd(b, AF_INET), null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct vg_rx_pkt p = { .data = rxbuf[0], .cap = SLOT };

	ck_assert_int_eq(dup2(null, fd), fd);
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, &p, 1), -EBADF);
	ck_assert_int_eq(vg_bind_check(b, false), -ENOTSOCK);
	ck_assert_int_eq(vg_bind_fd(b, AF_INET), -1);
	vg_bind_close(b);
	b = NULL;
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fd);
	close(null);
}
END_TEST

/* Replaced by another UDP socket: sends would still "work", so only the
 * probe can tell (its port is not ours). */
START_TEST(probe_replaced)
{
	int fd = vg_bind_fd(b, AF_INET), s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(dup2(s, fd), fd);
	ck_assert_int_eq(vg_bind_check(b, false), 0);
	ck_assert_int_eq(vg_bind_check(b, true), -ESTALE);
	ck_assert_int_eq(vg_bind_fd(b, AF_INET), -1);
	vg_bind_close(b);
	b = NULL;
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fd);
	close(s);
}
END_TEST

/* ICMP reports, memory pressure, EIO: counted, one log line, and what is
 * queued behind them is still received. */
START_TEST(recv_errors)
{
	static const int errs[] = { ECONNREFUSED, ENOMEM, EIO };
	struct vg_rx_pkt p = { .data = rxbuf[0], .cap = SLOT };
	struct vg_bind_stats s;
	unsigned int i;

	ck_assert_int_eq(send_batch(), N);
	for (i = 0; i < 3; i++) {
		rx_fault = (struct fault){ .fd = vg_bind_fd(b, AF_INET), .err = errs[i],
					   .times = 1 };
		ck_assert_int_eq(vg_bind_recv(b, AF_INET, &p, 1), 0);
	}
	ck_assert_uint_eq(drain(b), N);
	vg_bind_get_stats(b, &s);
	ck_assert_uint_eq(s.rx_errors, 3);
	ck_assert_uint_eq(s.rx_packets, N);
	ck_assert_uint_eq(log_lines, 1);
	ck_assert_int_eq(vg_bind_check(b, true), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("udp_faults");
	TCase *t = tcase_create("faults");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 20);
	tcase_add_test(t, send_enobufs_transient);
	tcase_add_test(t, send_enobufs_persistent);
	tcase_add_test(t, send_eio);
	tcase_add_test(t, send_eagain_transient);
	tcase_add_test(t, send_eagain_stuck);
	tcase_add_test(t, send_gso_emsgsize);
	tcase_add_test(t, send_gso_einval);
	tcase_add_test(t, send_ebadf_lost);
	tcase_add_test(t, recv_enotsock_lost);
	tcase_add_test(t, probe_replaced);
	tcase_add_test(t, recv_errors);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return vg_test_run(suite(), false);
}
