// SPDX-License-Identifier: MIT
/*
 * `vg offload-check`: does this kernel's TUN really do what it claims?
 *
 * Two private network namespaces, made with unshare() and never named, so
 * they vanish with this process however it ends.  Each holds one TUN
 * opened by vguard's TUN layer; a bridge joins them (read, split, coalesce,
 * write).  Real kernel TCP and UDP senders in A talk to receivers in B over
 * IPv4 and IPv6, every byte is compared end to end, and the TUN counters
 * show whether super-packets arrived and coalesced writes were taken.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <libmnl/libmnl.h>

#include "tools/offload_check.h"
#include "tun/tun.h"
#include "tun/tun_bridge.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define OC_PORT 5399
#define OC_UDP_SEG 1200
#define OC_UDP_BURST 40		/* datagrams per UDP_SEGMENT send */
#define OC_MAX_FAIL 16

enum { F_TCP4, F_TCP6, F_UDP4, F_UDP6, F_COUNT };

struct oc_flow {
	const char *name;
	int family;
	bool tcp;
	bool ran, ok, skipped;
	char error[160];
	uint64_t sent, received, corrupt;	/* TCP: bytes; UDP: datagrams */
	bool gso_send;				/* UDP: UDP_SEGMENT was used */
	struct tun_gso_counters gso;		/* read from A */
	uint64_t coalesced, merged, refused;	/* written to B */
	double secs;
};

struct oc {
	bool json;
	uint64_t tcp_bytes;
	unsigned int udp_count;
	struct tun_options opts;
	char kernel[160];
	int ns_orig, ns_a, ns_b;
	bool v6;
	struct tun *a, *b;
	struct tun_bridge *br;
	struct tun_offload_state sa, sb0, sb;
	struct oc_flow f[F_COUNT];
	char fail[OC_MAX_FAIL][200];
	int nfail;
	char setup_error[200];
};

static void fail(struct oc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct oc *c, const char *fmt, ...)
{
	va_list ap;

	if (c->nfail == OC_MAX_FAIL)
		return;
	va_start(ap, fmt);
	vsnprintf(c->fail[c->nfail++], sizeof(c->fail[0]), fmt, ap);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The byte at stream offset i: position-dependent, so a reordered,
 * duplicated or corrupted byte cannot match by accident. */
static inline uint8_t pat(uint64_t i)
{
	return (uint8_t)(((uint32_t)i * 2654435761u) >> 24) ^ (uint8_t)(i >> 13);
}

/* --- namespaces and addresses --- */

static int new_netns(int *fd)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	*fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static int enter(int nsfd)
{
	return setns(nsfd, CLONE_NEWNET) < 0 ? -errno : 0;
}

static int link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			ret = -errno;
	}
	close(s);
	return ret;
}

static int add_addr(int ifindex, int family, const char *text, int prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned char addr[16];
	size_t alen = family == AF_INET ? 4 : 16;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned int seq = (unsigned int)time(NULL), portid;
	ssize_t n;
	int ret = 0;

	if (inet_pton(family, text, addr) != 1)
		return -EINVAL;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, n, seq, portid, NULL, NULL) < 0)
		ret = -errno;
out:
	mnl_socket_close(nl);
	return ret;
}

/* One side: a TUN named `name` in the current namespace, up, addressed. */
static int make_side(struct oc *c, struct tun **t, const char *name,
		     const char *a4, const char *a6)
{
	int ret = tun_open(t, name, &c->opts);

	if (ret < 0) {
		snprintf(c->setup_error, sizeof(c->setup_error),
			 "cannot create TUN %s: %s", name, strerror(-ret));
		return ret;
	}
	ret = link_up(name);
	if (!ret)
		ret = add_addr(tun_ifindex(*t), AF_INET, a4, 24);
	if (ret < 0) {
		snprintf(c->setup_error, sizeof(c->setup_error),
			 "cannot configure %s: %s", name, strerror(-ret));
		return ret;
	}
	if (add_addr(tun_ifindex(*t), AF_INET6, a6, 64) < 0)
		c->v6 = false;
	return 0;
}

static int setup(struct oc *c)
{
	int ret;

	c->ns_orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (c->ns_orig < 0)
		return -errno;
	ret = new_netns(&c->ns_a);
	if (ret < 0) {
		snprintf(c->setup_error, sizeof(c->setup_error),
			 "cannot create a network namespace: %s (needs root)",
			 strerror(-ret));
		return ret;
	}
	c->v6 = true;
	ret = make_side(c, &c->a, "vgocA", "10.201.0.1", "fd77:6f63::1");
	if (ret < 0)
		return ret;
	ret = new_netns(&c->ns_b);
	if (ret < 0)
		return ret;
	ret = make_side(c, &c->b, "vgocB", "10.201.0.2", "fd77:6f63::2");
	if (ret < 0)
		return ret;
	tun_get_offload(c->a, &c->sa);
	tun_get_offload(c->b, &c->sb0);
	ret = tun_bridge_start(&c->br, c->a, c->b);
	if (ret < 0)
		snprintf(c->setup_error, sizeof(c->setup_error),
			 "cannot start the bridge: %s", strerror(-ret));
	return ret;
}

static void teardown(struct oc *c)
{
	tun_bridge_stop(c->br);
	tun_close(c->a);
	tun_close(c->b);
	if (c->ns_orig >= 0) {
		if (setns(c->ns_orig, CLONE_NEWNET) < 0)
			perror("vg offload-check: setns");
		close(c->ns_orig);
	}
	if (c->ns_a >= 0)
		close(c->ns_a);
	if (c->ns_b >= 0)
		close(c->ns_b);
}

/* --- traffic --- */

static socklen_t sockaddr_of(struct sockaddr_storage *ss, int family, bool dst)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(OC_PORT);
		inet_pton(AF_INET, dst ? "10.201.0.2" : "10.201.0.1", &s4->sin_addr);
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(OC_PORT);
		inet_pton(AF_INET6, dst ? "fd77:6f63::2" : "fd77:6f63::1", &s6->sin6_addr);
		return sizeof(*s6);
	}
}

static void timeouts(int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A socket in namespace ns (sockets keep the namespace they were made in). */
static int socket_in(int ns, int family, int type)
{
	int fd;

	if (enter(ns) < 0)
		return -errno;
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

struct rx {
	int fd;
	struct oc_flow *f;
	uint64_t want;
	bool done;	/* UDP: the sender has finished */
};

static void *tcp_rx(void *arg)
{
	struct rx *r = arg;
	static uint8_t buf[256 * 1024];
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	uint64_t off = 0;
	int fd;

	if (poll(&p, 1, 10000) != 1) {
		snprintf(r->f->error, sizeof(r->f->error), "no connection arrived");
		return NULL;
	}
	fd = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		snprintf(r->f->error, sizeof(r->f->error), "accept: %s", strerror(errno));
		return NULL;
	}
	timeouts(fd, 15);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0), i;

		if (n < 0) {
			snprintf(r->f->error, sizeof(r->f->error),
				 "receive after %llu bytes: %s",
				 (unsigned long long)off, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (buf[i] != pat(off + i) && !r->f->corrupt++)
				snprintf(r->f->error, sizeof(r->f->error),
					 "byte %llu differs", (unsigned long long)(off + i));
		off += n;
	}
	r->f->received = off;
	close(fd);
	return NULL;
}

/* A flow whose sockets could not be set up: says why (errno) and closes
 * whichever of the two fds was opened. */
static void setup_failed(struct oc_flow *f, int cfd, int rfd)
{
	snprintf(f->error, sizeof(f->error), "socket setup: %s", strerror(errno));
	if (cfd >= 0)
		close(cfd);
	if (rfd >= 0)
		close(rfd);
}

static void run_tcp(struct oc *c, struct oc_flow *f)
{
	static uint8_t buf[256 * 1024];
	struct sockaddr_storage ss;
	struct rx r = { .f = f };
	pthread_t th;
	socklen_t sl;
	int one = 1, cfd = -1;
	uint64_t off = 0;

	r.fd = socket_in(c->ns_b, f->family, SOCK_STREAM);
	if (r.fd < 0)
		goto err;
	setsockopt(r.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sl = sockaddr_of(&ss, f->family, true);
	if (bind(r.fd, (struct sockaddr *)&ss, sl) < 0 || listen(r.fd, 1) < 0)
		goto err;
	cfd = socket_in(c->ns_a, f->family, SOCK_STREAM);
	if (cfd < 0)
		goto err;
	timeouts(cfd, 15);
	if (pthread_create(&th, NULL, tcp_rx, &r)) {
		errno = EAGAIN;
		goto err;
	}
	if (connect(cfd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(f->error, sizeof(f->error), "connect: %s", strerror(errno));
	} else {
		while (off < c->tcp_bytes) {
			size_t k = c->tcp_bytes - off < sizeof(buf) ? c->tcp_bytes - off : sizeof(buf);
			ssize_t n, i;

			for (i = 0; i < (ssize_t)k; i++)
				buf[i] = pat(off + i);
			n = send(cfd, buf, k, MSG_NOSIGNAL);
			if (n < 0) {
				snprintf(f->error, sizeof(f->error), "send: %s", strerror(errno));
				break;
			}
			/* the unsent tail is regenerated from its offset */
			off += n;
		}
		shutdown(cfd, SHUT_WR);
	}
	f->sent = off;
	pthread_join(th, NULL);
	close(cfd);
	close(r.fd);
	f->ok = !f->error[0] && f->received == c->tcp_bytes && !f->corrupt;
	if (!f->ok && !f->error[0])
		snprintf(f->error, sizeof(f->error), "%llu of %llu bytes arrived",
			 (unsigned long long)f->received, (unsigned long long)c->tcp_bytes);
	return;
err:
	setup_failed(f, cfd, r.fd);
}

/* Datagram k: its number, then pattern bytes from k * OC_UDP_SEG. */
static void udp_fill(uint8_t *p, uint32_t k)
{
	size_t i;

	memcpy(p, &k, 4);
	for (i = 4; i < OC_UDP_SEG; i++)
		p[i] = pat((uint64_t)k * OC_UDP_SEG + i);
}

static void *udp_rx(void *arg)
{
	struct rx *r = arg;
	uint8_t buf[OC_UDP_SEG + 64], want[OC_UDP_SEG];
	uint8_t *seen = calloc(r->want, 1);
	int idle = 0;

	if (!seen)
		return NULL;
	while (idle < 15) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		uint32_t k;
		ssize_t n;

		if (poll(&p, 1, 100) != 1) {
			if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
				idle++;
			continue;
		}
		n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			continue;
		memcpy(&k, buf, 4);
		if (n != OC_UDP_SEG || k >= r->want) {
			r->f->corrupt++;
			continue;
		}
		udp_fill(want, k);
		if (memcmp(buf, want, OC_UDP_SEG)) {
			r->f->corrupt++;
			continue;
		}
		if (!seen[k]++)
			r->f->received++;
	}
	free(seen);
	return NULL;
}

static ssize_t udp_send_burst(int fd, uint32_t first, unsigned int count, bool gso)
{
	static uint8_t buf[OC_UDP_BURST * OC_UDP_SEG];
	unsigned int i;

	for (i = 0; i < count; i++)
		udp_fill(buf + i * OC_UDP_SEG, first + i);
	if (gso)
		return send(fd, buf, (size_t)count * OC_UDP_SEG, 0);
	for (i = 0; i < count; i++)
		if (send(fd, buf + i * OC_UDP_SEG, OC_UDP_SEG, 0) < 0)
			return -1;
	return (ssize_t)count * OC_UDP_SEG;
}

static void run_udp(struct oc *c, struct oc_flow *f)
{
	struct sockaddr_storage ss;
	struct rx r = { .f = f, .want = c->udp_count };
	int big = 16 << 20, seg = OC_UDP_SEG, cfd = -1;
	uint32_t k = 0;
	pthread_t th;
	socklen_t sl;

	r.fd = socket_in(c->ns_b, f->family, SOCK_DGRAM);
	if (r.fd < 0)
		goto err;
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	sl = sockaddr_of(&ss, f->family, true);
	if (bind(r.fd, (struct sockaddr *)&ss, sl) < 0)
		goto err;
	cfd = socket_in(c->ns_a, f->family, SOCK_DGRAM);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&ss, sl) < 0)
		goto err;
	timeouts(cfd, 5);
	f->gso_send = setsockopt(cfd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0;
	if (pthread_create(&th, NULL, udp_rx, &r)) {
		errno = EAGAIN;
		goto err;
	}
	while (k < c->udp_count) {
		unsigned int n = c->udp_count - k < OC_UDP_BURST ? c->udp_count - k : OC_UDP_BURST;

		if (udp_send_burst(cfd, k, n, f->gso_send) < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				usleep(1000);
				continue;
			}
			snprintf(f->error, sizeof(f->error), "send: %s", strerror(errno));
			break;
		}
		k += n;
		usleep(300);	/* pace: a bridge is not a NIC ring */
	}
	f->sent = k;
	__atomic_store_n(&r.done, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	close(cfd);
	close(r.fd);
	/* UDP may drop under load; it may never corrupt. */
	f->ok = !f->error[0] && !f->corrupt && f->received * 2 >= f->sent && f->sent;
	if (!f->ok && !f->error[0])
		snprintf(f->error, sizeof(f->error), "%llu of %llu datagrams intact, %llu corrupt",
			 (unsigned long long)f->received, (unsigned long long)f->sent,
			 (unsigned long long)f->corrupt);
	return;
err:
	setup_failed(f, cfd, r.fd);
}

static void run_flow(struct oc *c, int i)
{
	static const enum tun_gso_kind kind[F_COUNT] = {
		TUN_GSO_TCP4, TUN_GSO_TCP6, TUN_GSO_UDP4, TUN_GSO_UDP6,
	};
	struct oc_flow *f = &c->f[i];
	struct tun_counters a0, a1, b0, b1;
	enum gro_proto g;
	double t0;

	if (f->family == AF_INET6 && !c->v6) {
		f->skipped = true;
		snprintf(f->error, sizeof(f->error), "IPv6 unavailable");
		return;
	}
	tun_get_counters(c->a, &a0);
	tun_get_counters(c->b, &b0);
	t0 = now();
	f->ran = true;
	if (f->tcp)
		run_tcp(c, f);
	else
		run_udp(c, f);
	f->secs = now() - t0;
	tun_get_counters(c->a, &a1);
	tun_get_counters(c->b, &b1);
	f->gso.packets = a1.gso[kind[i]].packets - a0.gso[kind[i]].packets;
	f->gso.segments = a1.gso[kind[i]].segments - a0.gso[kind[i]].segments;
	f->gso.max_gso_size = a1.gso[kind[i]].max_gso_size;
	f->gso.max_segments = a1.gso[kind[i]].max_segments;
	g = f->tcp ? GRO_PROTO_TCP : GRO_PROTO_UDP;
	f->coalesced = b1.coalesced[g] - b0.coalesced[g];
	f->merged = b1.merged[g] - b0.merged[g];
	f->refused = b1.rejected - b0.rejected;
}

/* --- verdict and output --- */

static bool acc(const struct tun_offload_state *s, unsigned int flag)
{
	return s->accepted & flag;
}

static void judge(struct oc *c)
{
	static const unsigned int flag[F_COUNT] = {
		TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6,
	};
	int i;

	if (c->sb0.vnet_hdr && !c->sb0.on[TUN_FEAT_TCP_GRO] &&
	    c->sb0.reason[TUN_FEAT_TCP_GRO] == TUN_REASON_PROBE_TCP)
		fail(c, "the kernel takes vnet headers but refused a coalesced TCP write at start-up");
	for (i = 0; i < F_COUNT; i++) {
		struct oc_flow *f = &c->f[i];
		bool gro = f->tcp ? c->sb0.on[TUN_FEAT_TCP_GRO] : c->sb0.on[TUN_FEAT_UDP_GRO];

		if (!f->ran)
			continue;
		if (!f->ok) {
			fail(c, "%s: %s", f->name, f->error);
			continue;
		}
		if (acc(&c->sa, flag[i]) && !f->gso.packets && (f->tcp || f->gso_send))
			fail(c, "%s: the kernel accepted %s but no super-packet arrived",
			     f->name, f->tcp ? (i == F_TCP4 ? "TSO4" : "TSO6") :
			     (i == F_UDP4 ? "USO4" : "USO6"));
		if (gro && f->refused)
			fail(c, "%s: the kernel refused %llu coalesced writes", f->name,
			     (unsigned long long)f->refused);
		else if (gro && f->gso.packets && !f->coalesced)
			fail(c, "%s: super-packets were read but nothing was coalesced on write",
			     f->name);
	}
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static void print_text(const struct oc *c)
{
	static const char *const names[] = { "tso4", "tso6", "uso4", "uso6" };
	static const unsigned int flags[] = { TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 };
	int i;

	printf("kernel           %s\n", c->kernel);
	printf("vnet header      %s\n\n", yesno(c->sa.vnet_hdr));
	printf("%-8s %-10s %-9s\n", "offload", "requested", "accepted");
	for (i = 0; i < 4; i++)
		printf("%-8s %-10s %-9s\n", names[i], yesno(c->sa.requested & flags[i]),
		       yesno(c->sa.accepted & flags[i]));
	printf("\n%-16s %-4s %s\n", "coalesced writes", "", "why");
	printf("%-16s %-4s %s\n", "tcp", c->sb.on[TUN_FEAT_TCP_GRO] ? "on" : "off",
	       tun_offload_reason_text(c->sb.reason[TUN_FEAT_TCP_GRO]));
	printf("%-16s %-4s %s\n\n", "udp", c->sb.on[TUN_FEAT_UDP_GRO] ? "on" : "off",
	       tun_offload_reason_text(c->sb.reason[TUN_FEAT_UDP_GRO]));
	printf("%-5s %-32s %-30s %-26s %s\n", "test", "data end to end",
	       "super-packets read", "coalesced writes", "result");
	for (i = 0; i < F_COUNT; i++) {
		const struct oc_flow *f = &c->f[i];
		char data[64], sp[64], co[64];

		if (!f->ran) {
			printf("%-5s %-32s %-30s %-26s %s\n", f->name, "-", "-", "-",
			       f->skipped ? f->error : "not run");
			continue;
		}
		if (f->tcp)
			snprintf(data, sizeof(data), "%llu/%llu B%s",
				 (unsigned long long)f->received, (unsigned long long)f->sent,
				 f->corrupt ? " CORRUPT" : " intact");
		else
			snprintf(data, sizeof(data), "%llu/%llu dgrams%s",
				 (unsigned long long)f->received, (unsigned long long)f->sent,
				 f->corrupt ? " CORRUPT" : " intact");
		snprintf(sp, sizeof(sp), "%llu (gso %llu, %llu segs)",
			 (unsigned long long)f->gso.packets,
			 (unsigned long long)f->gso.max_gso_size,
			 (unsigned long long)f->gso.max_segments);
		snprintf(co, sizeof(co), "%llu (+%llu, %llu refused)",
			 (unsigned long long)f->coalesced, (unsigned long long)f->merged,
			 (unsigned long long)f->refused);
		printf("%-5s %-32s %-30s %-26s %s\n", f->name, data, sp, co,
		       f->ok ? "ok" : "FAIL");
	}
	printf("\n");
	if (c->setup_error[0])
		printf("error: %s\n", c->setup_error);
	for (i = 0; i < c->nfail; i++)
		printf("FAIL: %s\n", c->fail[i]);
	if (!c->nfail && !c->setup_error[0])
		printf("result: ok, every offload the kernel claims works\n");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct oc *c)
{
	static const char *const names[] = { "tso4", "tso6", "uso4", "uso6" };
	static const unsigned int flags[] = { TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 };
	int i;

	printf("{\"kernel\":");
	json_str(c->kernel);
	printf(",\"vnet_hdr\":%s,\"offloads\":{", c->sa.vnet_hdr ? "true" : "false");
	for (i = 0; i < 4; i++)
		printf("%s\"%s\":{\"requested\":%s,\"accepted\":%s}", i ? "," : "", names[i],
		       c->sa.requested & flags[i] ? "true" : "false",
		       c->sa.accepted & flags[i] ? "true" : "false");
	printf("},\"coalesced_writes\":{\"tcp\":{\"on\":%s,\"why\":",
	       c->sb.on[TUN_FEAT_TCP_GRO] ? "true" : "false");
	json_str(tun_offload_reason_text(c->sb.reason[TUN_FEAT_TCP_GRO]));
	printf("},\"udp\":{\"on\":%s,\"why\":", c->sb.on[TUN_FEAT_UDP_GRO] ? "true" : "false");
	json_str(tun_offload_reason_text(c->sb.reason[TUN_FEAT_UDP_GRO]));
	printf("}},\"tests\":[");
	for (i = 0; i < F_COUNT; i++) {
		const struct oc_flow *f = &c->f[i];

		printf("%s{\"name\":\"%s\",\"ran\":%s,\"ok\":%s,\"unit\":\"%s\","
		       "\"sent\":%llu,\"received\":%llu,\"corrupt\":%llu,"
		       "\"super_packets\":%llu,\"max_gso_size\":%llu,\"max_segments\":%llu,"
		       "\"coalesced\":%llu,\"merged\":%llu,\"refused\":%llu,\"seconds\":%.3f,\"error\":",
		       i ? "," : "", f->name, f->ran ? "true" : "false", f->ok ? "true" : "false",
		       f->tcp ? "bytes" : "datagrams",
		       (unsigned long long)f->sent, (unsigned long long)f->received,
		       (unsigned long long)f->corrupt, (unsigned long long)f->gso.packets,
		       (unsigned long long)f->gso.max_gso_size,
		       (unsigned long long)f->gso.max_segments,
		       (unsigned long long)f->coalesced, (unsigned long long)f->merged,
		       (unsigned long long)f->refused, f->secs);
		json_str(f->error);
		printf("}");
	}
	printf("],\"failures\":[");
	for (i = 0; i < c->nfail; i++) {
		printf("%s", i ? "," : "");
		json_str(c->fail[i]);
	}
	printf("],\"error\":");
	json_str(c->setup_error);
	printf(",\"ok\":%s}\n", !c->nfail && !c->setup_error[0] ? "true" : "false");
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vg offload-check [--json] [--no-offload] [--no-tso] [--no-uso]\n"
		"                        [--no-tcp-gro] [--no-udp-gro] [--megabytes N]\n"
		"Runs real TCP and UDP traffic (IPv4 and IPv6) through two TUN devices\n"
		"in private network namespaces and reports which offloads work.\n"
		"Exit status: 0 all claimed offloads work, 1 something failed,\n"
		"2 the check could not run (needs root).\n");
}

static int parse(struct oc *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		TUN_OPTION_LONGOPTS,
		{ "megabytes", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'j': c->json = true; break;
		case 'm':
			c->tcp_bytes = strtoull(optarg, NULL, 10) << 20;
			if (!c->tcp_bytes || c->tcp_bytes > (4ULL << 30)) {
				fprintf(stderr, "vg offload-check: bad --megabytes\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default:
			if (tun_options_getopt(&c->opts, o))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

static void quiet_log(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;	/* the table says it */
}

int offload_check_main(int argc, char **argv)
{
	static const struct { const char *name; int family; bool tcp; } flows[F_COUNT] = {
		{ "tcp4", AF_INET, true }, { "tcp6", AF_INET6, true },
		{ "udp4", AF_INET, false }, { "udp6", AF_INET6, false },
	};
	struct oc *c = calloc(1, sizeof(*c));
	struct utsname u;
	int i, ret;

	if (!c)
		return 2;
	c->ns_orig = c->ns_a = c->ns_b = -1;
	c->tcp_bytes = 32 << 20;
	c->udp_count = 8000;
	tun_options_init(&c->opts);
	tun_options_from_env(&c->opts);
	c->opts.mtu = 1500;
	c->opts.log = quiet_log;
	ret = parse(c, argc, argv);
	if (ret >= 0)
		goto out;
	if (uname(&u) == 0)
		snprintf(c->kernel, sizeof(c->kernel), "%s %s", u.sysname, u.release);
	for (i = 0; i < F_COUNT; i++) {
		c->f[i].name = flows[i].name;
		c->f[i].family = flows[i].family;
		c->f[i].tcp = flows[i].tcp;
	}
	if (setup(c) == 0) {
		for (i = 0; i < F_COUNT; i++)
			run_flow(c, i);
		tun_get_offload(c->b, &c->sb);
		judge(c);
	} else {
		if (!c->setup_error[0])
			snprintf(c->setup_error, sizeof(c->setup_error), "setup failed");
		if (c->a)
			tun_get_offload(c->a, &c->sa);
		if (c->b)
			tun_get_offload(c->b, &c->sb);
		else
			c->sb = c->sa;
	}
	teardown(c);
	if (c->json)
		print_json(c);
	else
		print_text(c);
	ret = c->setup_error[0] ? 2 : c->nfail ? 1 : 0;
out:
	free(c);
	return ret;
}
