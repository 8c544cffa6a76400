// SPDX-License-Identifier: MIT
/*
 * udp-bench: loopback UDP throughput of 1452-byte datagrams (a full
 * WireGuard data packet at MTU 1420 + 32) through the conn/ bind with
 * GSO+GRO, with GRO on but nothing to coalesce (GSO off at the sender), with
 * both off (still sendmmsg/recvmmsg batches), and through plain
 * sendto/recvfrom. One sender and one receiver thread; the
 * figure is what the receiver got, median of several runs.
 *
 *   udp-bench [-t SECONDS] [-r RUNS] [-s SIZE] [-6]
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "conn/bind.h"
#include "tools/bench/bench.h"

#define BATCH 64
#define SLOT 2048

enum mode { MODE_OFFLOAD, MODE_GRO_ONLY, MODE_BATCH, MODE_PLAIN, MODE_COUNT };
static const char *const mode_name[] = {
	"bind, GSO+GRO on", "bind, GRO on, GSO off", "bind, GSO+GRO off", "plain sendto/recvfrom",
};

struct run {
	enum mode mode;
	int family;
	size_t size;
	double secs;
	volatile int stop;
	struct vg_bind *tx, *rx;
	int txfd, rxfd;
	union vg_sockaddr dst;
	uint64_t sent, received, rx_calls, tx_calls;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void quiet(void *arg, const char *msg)
{
}

static void *sender(void *arg)
{
	struct run *r = arg;
	static uint8_t buf[BATCH][SLOT];
	struct iovec iov[BATCH];
	struct vg_endpoint ep;
	double end = now() + r->secs;

	memset(&ep, 0, sizeof(ep));
	ep.dst = r->dst;
	for (int i = 0; i < BATCH; i++) {
		memset(buf[i], i, r->size);
		iov[i].iov_base = buf[i];
		iov[i].iov_len = r->size;
	}
	while (now() < end) {
		if (r->mode == MODE_PLAIN) {
			for (int i = 0; i < BATCH; i++) {
				if (sendto(r->txfd, buf[i], r->size, 0, &r->dst.sa,
					   r->family == AF_INET ? sizeof(r->dst.in4)
								: sizeof(r->dst.in6)) > 0)
					r->sent++;
				r->tx_calls++;
			}
		} else if (vg_bind_send(r->tx, &ep, iov, BATCH, NULL) == BATCH) {
			r->sent += BATCH;
		}
	}
	r->stop = 1;
	return NULL;
}

static void *receiver(void *arg)
{
	struct run *r = arg;
	static uint8_t buf[VG_BIND_BATCH][SLOT];
	struct vg_rx_pkt p[VG_BIND_BATCH];
	struct pollfd pfd = { .events = POLLIN };

	pfd.fd = r->mode == MODE_PLAIN ? r->rxfd : vg_bind_fd(r->rx, r->family);
	while (!r->stop) {
		int n;

		if (r->mode == MODE_PLAIN) {
			ssize_t len = recv(r->rxfd, buf[0], SLOT, MSG_DONTWAIT);

			r->rx_calls++;
			if (len >= 0) {
				r->received++;
				continue;
			}
		} else {
			for (int i = 0; i < VG_BIND_BATCH; i++) {
				p[i].data = buf[i];
				p[i].cap = SLOT;
			}
			n = vg_bind_recv(r->rx, r->family, p, VG_BIND_BATCH);
			if (n > 0) {
				r->received += (uint64_t)n;
				continue;
			}
		}
		poll(&pfd, 1, 50);
	}
	return NULL;
}

static int plain_socket(int family, uint16_t *port)
{
	union vg_sockaddr a = { 0 };
	socklen_t len = family == AF_INET ? sizeof(a.in4) : sizeof(a.in6);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), size = VG_BIND_SOCKBUF;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	a.sa.sa_family = (sa_family_t)family;
	if (bind(fd, &a.sa, len) || getsockname(fd, &a.sa, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? a.in4.sin_port : a.in6.sin6_port);
	return fd;
}

static int setup(struct run *r)
{
	struct vg_bind_config c = { .log = quiet };
	uint16_t port;

	memset(&r->dst, 0, sizeof(r->dst));
	if (r->mode == MODE_PLAIN) {
		r->txfd = plain_socket(r->family, &port);
		r->rxfd = plain_socket(r->family, &port);
		if (r->txfd < 0 || r->rxfd < 0)
			return -errno;
	} else {
		c.no_gso = c.no_gro = r->mode == MODE_BATCH;
		c.no_ipv4 = r->family != AF_INET;
		c.no_ipv6 = r->family != AF_INET6;
		/* Datagrams that arrive one by one at a GRO socket: the many-peer
		 * case, where nothing coalesces. */
		c.no_gso = c.no_gso || r->mode == MODE_GRO_ONLY;
		if (vg_bind_open(&r->tx, &c))
			return -EIO;
		c.no_gso = r->mode == MODE_BATCH;
		if (vg_bind_open(&r->rx, &c))
			return -EIO;
		port = vg_bind_port(r->rx);
	}
	if (r->family == AF_INET) {
		r->dst.in4.sin_family = AF_INET;
		r->dst.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r->dst.in4.sin_port = htons(port);
	} else {
		r->dst.in6.sin6_family = AF_INET6;
		r->dst.in6.sin6_addr = in6addr_loopback;
		r->dst.in6.sin6_port = htons(port);
	}
	return 0;
}

static void teardown(struct run *r)
{
	struct vg_bind_stats s = { 0 };

	if (r->mode == MODE_PLAIN) {
		close(r->txfd);
		close(r->rxfd);
		return;
	}
	vg_bind_get_stats(r->tx, &s);
	r->tx_calls = s.tx_syscalls;
	vg_bind_get_stats(r->rx, &s);
	r->rx_calls = s.rx_syscalls;
	vg_bind_close(r->tx);
	vg_bind_close(r->rx);
}

int main(int argc, char **argv)
{
	double secs = 2, rate[MODE_COUNT][16], loss[MODE_COUNT][16];
	int runs = 3, opt, family = AF_INET;
	size_t size = 1452;

	while ((opt = getopt(argc, argv, "t:r:s:6h")) != -1) {
		switch (opt) {
		case 't': secs = atof(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 's': size = (size_t)atol(optarg); break;
		case '6': family = AF_INET6; break;
		default:
			fprintf(stderr, "usage: udp-bench [-t SECONDS] [-r RUNS] [-s SIZE] [-6]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (runs < 1 || runs > 16 || size < 1 || size > SLOT || secs <= 0) {
		fprintf(stderr, "udp-bench: runs 1..16, size 1..%d, seconds > 0\n", SLOT);
		return 2;
	}
	printf("udp-bench: %zu-byte datagrams over IPv%d loopback, %.1f s per run, median of %d\n",
	       size, family == AF_INET ? 4 : 6, secs, runs);
	fflush(stdout);
	/* Interleave the modes so machine noise hits them alike. */
	for (int k = 0; k < runs; k++) {
		for (int m = 0; m < MODE_COUNT; m++) {
			struct run r = { .mode = m, .family = family, .size = size, .secs = secs };
			pthread_t ts, tr;
			double t0;

			if (setup(&r)) {
				fprintf(stderr, "udp-bench: cannot open sockets for %s\n", mode_name[m]);
				return 1;
			}
			t0 = now();
			pthread_create(&tr, NULL, receiver, &r);
			pthread_create(&ts, NULL, sender, &r);
			pthread_join(ts, NULL);
			pthread_join(tr, NULL);
			rate[m][k] = (double)r.received / (now() - t0);
			loss[m][k] = r.sent ? 100.0 * (double)(r.sent - r.received) / (double)r.sent : 0;
			teardown(&r);
			fprintf(stderr, "  run %d %-24s %9.0f dgram/s (sent %lu, got %lu, %lu send / %lu recv calls)\n",
				k + 1, mode_name[m], rate[m][k], (unsigned long)r.sent,
				(unsigned long)r.received, (unsigned long)r.tx_calls,
				(unsigned long)r.rx_calls);
		}
	}
	printf("%-24s %14s %10s %8s\n", "mode", "datagrams/s", "Gbit/s", "loss %");
	for (int m = 0; m < MODE_COUNT; m++) {
		double dps = bench_median(rate[m], runs);

		printf("%-24s %14.0f %10.2f %8.1f\n", mode_name[m], dps, dps * (double)size * 8 / 1e9,
		       bench_median(loss[m], runs));
	}
	return 0;
}
