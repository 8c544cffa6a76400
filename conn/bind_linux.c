// SPDX-License-Identifier: MIT
/*
 * The Linux bind: an IPv4 and an IPv6 UDP socket on one port, recvmmsg with
 * UDP_GRO, sendmmsg with UDP_SEGMENT, sticky sources, and the fallbacks that
 * keep packets flowing when an offload or a cached source is refused.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn/batch.h"
#include "conn/bind_impl.h"
#include "conn/cmsg.h"
#include "conn/sticky.h"

/* recvmmsg slots of 64 KiB for GRO batches; each can hold up to 64 datagrams,
 * so 8 of them fill a 128-packet batch many times over. */
#define GRO_SLOTS 8
/* Room for PKTINFO + UDP_GRO and anything unexpected the kernel adds. */
#define CTL_RX 128
/* PKTINFO (v6 is the larger) + UDP_SEGMENT. */
#define CTL_TX (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)))
#define PORT_TRIES 100
#define WRITABLE_WAIT_MS 1000

union ctl_rx {
	char buf[CTL_RX];
	struct cmsghdr align;
};

union ctl_tx {
	char buf[CTL_TX];
	struct cmsghdr align;
};

struct lsock {
	int fd;
	int family;
	bool gso_kernel;	/* getsockopt(UDP_SEGMENT) works */
	bool gro_ever;		/* UDP_GRO was on at some point: batches may be queued */
	size_t gso_max_seg;	/* segment sizes the path refused are sent plain */
	/* GRO receive state: messages read but not yet handed out. */
	uint8_t *scratch;
	unsigned int rcount, ri;
	size_t roff;
	bool rparsed;
	int rgso;
	struct vg_endpoint rep;
	struct mmsghdr rmsg[GRO_SLOTS];
	struct iovec riov[GRO_SLOTS];
	union vg_sockaddr raddr[GRO_SLOTS];
	union ctl_rx rctl[GRO_SLOTS];
};

struct linux_bind {
	struct vg_bind b;
	struct lsock s[2];		/* [0] IPv4, [1] IPv6 */
	unsigned int user_off;		/* VG_BIND_* bits switched off */
	unsigned int eio_off;		/* VG_BIND_GSO* bits turned off by EIO */
	struct vg_bind_syscalls sc;
	/* send scratch */
	struct vg_gso_msg plan[VG_BIND_BATCH];
	struct mmsghdr tmsg[VG_BIND_BATCH];
	union ctl_tx tctl[VG_BIND_BATCH];
	/* direct receive scratch (GRO never on) */
	struct mmsghdr dmsg[VG_BIND_BATCH];
	struct iovec diov[VG_BIND_BATCH];
	union vg_sockaddr daddr[VG_BIND_BATCH];
	union ctl_rx dctl[VG_BIND_BATCH];
};

struct prepared {
	int fd[2];
	bool gso[2], gro[2];
	uint16_t port;
};

static const struct vg_bind_ops linux_ops;

static inline struct linux_bind *to_lb(const struct vg_bind *b)
{
	return (struct linux_bind *)b;
}

static int fam_index(int family)
{
	if (family == AF_INET)
		return 0;
	if (family == AF_INET6)
		return 1;
	return -1;
}

static unsigned int gso_bit(int idx)
{
	return idx ? VG_BIND_GSO6 : VG_BIND_GSO4;
}

static unsigned int gro_bit(int idx)
{
	return idx ? VG_BIND_GRO6 : VG_BIND_GRO4;
}

static const char *fam_name(int idx)
{
	return idx ? "IPv6" : "IPv4";
}

static int setint(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val)) ? -errno : 0;
}

static void set_bufs(struct vg_bind *b, int fd)
{
	int size = b->cfg.sockbuf;

	/* FORCE ignores rmem_max/wmem_max but needs CAP_NET_ADMIN. */
	if (setint(fd, SOL_SOCKET, SO_RCVBUFFORCE, size) && setint(fd, SOL_SOCKET, SO_RCVBUF, size))
		vg_bind_log_once(b, VG_LOG_SOCKBUF, "cannot set socket buffers to %d bytes", size);
	if (setint(fd, SOL_SOCKET, SO_SNDBUFFORCE, size) && setint(fd, SOL_SOCKET, SO_SNDBUF, size))
		vg_bind_log_once(b, VG_LOG_SOCKBUF, "cannot set socket buffers to %d bytes", size);
}

/* UDP_GRO is trusted only when the kernel reads it back as on: kernels that
 * accept it but cannot report it (< 5.12) had GRO quirks. */
static bool gro_enable(int fd, bool on)
{
	int val = 0;
	socklen_t len = sizeof(val);

	if (setint(fd, SOL_UDP, UDP_GRO, on))
		return false;
	if (getsockopt(fd, SOL_UDP, UDP_GRO, &val, &len))
		return false;
	return on && val;
}

static bool gso_supported(int fd)
{
	int val = 0;
	socklen_t len = sizeof(val);

	return !getsockopt(fd, SOL_UDP, UDP_SEGMENT, &val, &len);
}

static int bind_port(int fd, int family, uint16_t port)
{
	union vg_sockaddr a = { 0 };
	socklen_t len;

	if (family == AF_INET) {
		a.in4.sin_family = AF_INET;
		a.in4.sin_addr.s_addr = htonl(INADDR_ANY);
		a.in4.sin_port = htons(port);
		len = sizeof(a.in4);
	} else {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_any;
		a.in6.sin6_port = htons(port);
		len = sizeof(a.in6);
	}
	return bind(fd, &a.sa, len) ? -errno : 0;
}

static int local_port(int fd, uint16_t *port)
{
	union vg_sockaddr a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len))
		return -errno;
	*port = ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in4.sin_port);
	return 0;
}

static int open_fd(struct vg_bind *b, int family, uint16_t port, int *out)
{
	int fd, ret;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		ret = setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
		if (!ret)
			ret = setint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	} else {
		ret = setint(fd, IPPROTO_IP, IP_PKTINFO, 1);
	}
	if (!ret && b->cfg.queues > 1)
		ret = setint(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!ret && b->cfg.fwmark)
		ret = setint(fd, SOL_SOCKET, SO_MARK, (int)b->cfg.fwmark);
	if (ret)
		goto fail;
	set_bufs(b, fd);
	ret = bind_port(fd, family, port);
	if (ret)
		goto fail;
	*out = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

/* A family the host lacks is not an error as long as the other one works. */
static bool family_missing(int err)
{
	return err == -EAFNOSUPPORT || err == -EPROTONOSUPPORT || err == -EADDRNOTAVAIL;
}

static void close_fds(int fd[2])
{
	for (int i = 0; i < 2; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		fd[i] = -1;
	}
}

/* Opens both sockets on one port; port 0 retries until a port is free for
 * both families. */
static int open_pair(struct vg_bind *b, uint16_t port, struct prepared *p)
{
	bool want[2] = { !b->cfg.no_ipv4, !b->cfg.no_ipv6 };
	int tries, ret = -EAFNOSUPPORT, i;

	for (tries = 0; tries < PORT_TRIES; tries++) {
		uint16_t use = port;
		bool retry = false;

		p->fd[0] = p->fd[1] = -1;
		for (i = 0; i < 2; i++) {
			if (!want[i])
				continue;
			ret = open_fd(b, i ? AF_INET6 : AF_INET, use, &p->fd[i]);
			if (family_missing(ret)) {
				vg_bind_log_once(b, i ? VG_LOG_NO_V6 : VG_LOG_NO_V4,
						 "%s unavailable (%s): carrying on without it",
						 fam_name(i), strerror(-ret));
				continue;
			}
			if (ret == -EADDRINUSE && !port && use) {
				retry = true;	/* the port we got for one family is taken for the other */
				break;
			}
			if (ret)
				goto fail;
			if (!use && (ret = local_port(p->fd[i], &use)))
				goto fail;
		}
		if (retry) {
			close_fds(p->fd);
			continue;
		}
		if (p->fd[0] < 0 && p->fd[1] < 0)
			return ret ? ret : -EAFNOSUPPORT;
		p->port = use;
		for (i = 0; i < 2; i++) {
			p->gso[i] = p->fd[i] >= 0 && gso_supported(p->fd[i]);
			p->gro[i] = false;
		}
		return 0;
	}
	return -EADDRINUSE;
fail:
	close_fds(p->fd);
	return ret;
}

static void apply_gso_state(struct linux_bind *lb, int i)
{
	struct lsock *s = &lb->s[i];
	unsigned int bit = gso_bit(i);

	if (s->fd < 0)
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_NO_SOCKET);
	else if (lb->user_off & bit)
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_SWITCH);
	else if (!s->gso_kernel)
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_KERNEL);
	else if (lb->eio_off & bit)
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_EIO);
	else
		vg_bind_set_state(&lb->b, bit, true, VG_BIND_REASON_ON);
}

static int ensure_scratch(struct lsock *s)
{
	unsigned int k;

	if (s->scratch)
		return 0;
	s->scratch = malloc((size_t)GRO_SLOTS * VG_UDP_MAX_DATAGRAM);
	if (!s->scratch)
		return -ENOMEM;
	for (k = 0; k < GRO_SLOTS; k++) {
		s->riov[k].iov_base = s->scratch + (size_t)k * VG_UDP_MAX_DATAGRAM;
		s->riov[k].iov_len = VG_UDP_MAX_DATAGRAM;
	}
	return 0;
}

static void apply_gro_state(struct linux_bind *lb, int i)
{
	struct lsock *s = &lb->s[i];
	unsigned int bit = gro_bit(i);
	bool on;

	if (s->fd < 0) {
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_NO_SOCKET);
		return;
	}
	if (lb->user_off & bit) {
		gro_enable(s->fd, false);
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_SWITCH);
		return;
	}
	if (ensure_scratch(s)) {
		gro_enable(s->fd, false);
		vg_bind_set_state(&lb->b, bit, false, VG_BIND_REASON_NO_MEMORY);
		return;
	}
	on = gro_enable(s->fd, true);
	if (on)
		s->gro_ever = true;
	else
		gro_enable(s->fd, false);
	vg_bind_set_state(&lb->b, bit, on, on ? VG_BIND_REASON_ON : VG_BIND_REASON_KERNEL);
}

static void install(struct linux_bind *lb, struct prepared *p)
{
	for (int i = 0; i < 2; i++) {
		struct lsock *s = &lb->s[i];

		if (s->fd >= 0)
			close(s->fd);
		s->fd = p->fd[i];
		s->family = i ? AF_INET6 : AF_INET;
		s->gso_kernel = p->gso[i];
		s->gso_max_seg = VG_UDP_MAX_DATAGRAM;
		apply_gso_state(lb, i);
		apply_gro_state(lb, i);
	}
	lb->b.port = p->port;
}

int vg_bind_open(struct vg_bind **out, const struct vg_bind_config *cfg)
{
	struct linux_bind *lb = calloc(1, sizeof(*lb));
	struct prepared p;
	int ret;

	if (!lb)
		return -ENOMEM;
	vg_bind_init(&lb->b, &linux_ops, cfg);
	lb->s[0].fd = lb->s[1].fd = -1;
	if (cfg->no_gso)
		lb->user_off |= VG_BIND_GSO;
	if (cfg->no_gro)
		lb->user_off |= VG_BIND_GRO;
	ret = open_pair(&lb->b, cfg->port, &p);
	if (ret) {
		free(lb);
		return ret;
	}
	install(lb, &p);
	*out = &lb->b;
	return 0;
}

static void linux_close(struct vg_bind *b)
{
	struct linux_bind *lb = to_lb(b);

	for (int i = 0; i < 2; i++) {
		if (lb->s[i].fd >= 0)
			close(lb->s[i].fd);
		free(lb->s[i].scratch);
	}
	free(lb);
}

static int linux_fd(const struct vg_bind *b, int family)
{
	int i = fam_index(family);

	return i < 0 ? -1 : to_lb(b)->s[i].fd;
}

void vg_bind_set_syscalls(struct vg_bind *b, const struct vg_bind_syscalls *sc)
{
	if (b->ops != &linux_ops)
		return;
	if (sc)
		to_lb(b)->sc = *sc;
	else
		memset(&to_lb(b)->sc, 0, sizeof(to_lb(b)->sc));
}

static int do_recvmmsg(struct linux_bind *lb, int fd, struct mmsghdr *m, unsigned int n)
{
	if (lb->sc.recvmmsg)
		return lb->sc.recvmmsg(lb->sc.arg, fd, m, n, MSG_DONTWAIT);
	return recvmmsg(fd, m, n, MSG_DONTWAIT, NULL);
}

static int do_sendmmsg(struct linux_bind *lb, int fd, struct mmsghdr *m, unsigned int n)
{
	if (lb->sc.sendmmsg)
		return lb->sc.sendmmsg(lb->sc.arg, fd, m, n, MSG_DONTWAIT);
	return sendmmsg(fd, m, n, MSG_DONTWAIT);
}

static void prep_rx(struct mmsghdr *m, struct iovec *iov, union vg_sockaddr *addr,
		    union ctl_rx *ctl)
{
	m->msg_hdr = (struct msghdr){
		.msg_name = addr,
		.msg_namelen = sizeof(*addr),
		.msg_iov = iov,
		.msg_iovlen = 1,
		.msg_control = ctl->buf,
		.msg_controllen = sizeof(ctl->buf),
	};
	m->msg_len = 0;
}

static void rx_endpoint(const struct msghdr *h, struct vg_endpoint *ep)
{
	if (vg_endpoint_from_sockaddr(ep, h->msg_name, h->msg_namelen))
		memset(ep, 0, sizeof(*ep));
	vg_sticky_parse(h, ep);
}

/* Transient receive errors (ICMP reports, memory pressure) must not stop
 * the worker: count them and report "nothing now". */
static int rx_error(struct vg_bind *b, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		return 0;
	if (err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL)
		return -err;
	VG_STAT_ADD(b, rx_errors, 1);
	vg_bind_log_once(b, VG_LOG_RXERR, "receive error: %s (ignored)", strerror(err));
	return 0;
}

/* Hands out the current scratch message; returns slots filled. */
static unsigned int split_current(struct linux_bind *lb, struct lsock *s, struct vg_rx_pkt *pkts,
				  unsigned int n)
{
	struct mmsghdr *m = &s->rmsg[s->ri];
	uint64_t trunc = 0;
	unsigned int got;

	if (!s->rparsed) {
		rx_endpoint(&m->msg_hdr, &s->rep);
		s->rgso = vg_cmsg_gro_size(&m->msg_hdr);
		s->rparsed = true;
		if (s->rgso && m->msg_len > (unsigned int)s->rgso) {
			VG_STAT_ADD(&lb->b, rx_gro_batches, 1);
			VG_STAT_ADD(&lb->b, rx_gro_datagrams,
				    (m->msg_len + (unsigned int)s->rgso - 1) / (unsigned int)s->rgso);
		}
		if (m->msg_len == 0) {	/* an empty datagram is still a datagram */
			pkts[0].len = 0;
			pkts[0].ep = s->rep;
			s->ri++;
			s->rparsed = false;
			return 1;
		}
	}
	got = vg_gro_split(s->riov[s->ri].iov_base, m->msg_len, &s->roff, s->rgso, &s->rep,
			   pkts, n, &trunc);
	if (trunc)
		VG_STAT_ADD(&lb->b, rx_truncated, trunc);
	if (s->roff >= m->msg_len) {
		s->ri++;
		s->roff = 0;
		s->rparsed = false;
	}
	return got;
}

static int recv_gro(struct linux_bind *lb, struct lsock *s, struct vg_rx_pkt *pkts, unsigned int n)
{
	unsigned int filled = 0, k;
	int ret;

	for (;;) {
		while (s->ri < s->rcount && filled < n)
			filled += split_current(lb, s, pkts + filled, n - filled);
		if (filled)
			break;
		for (k = 0; k < GRO_SLOTS; k++)
			prep_rx(&s->rmsg[k], &s->riov[k], &s->raddr[k], &s->rctl[k]);
		ret = do_recvmmsg(lb, s->fd, s->rmsg, GRO_SLOTS);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return rx_error(&lb->b, errno);
		}
		if (ret == 0)
			return 0;
		VG_STAT_ADD(&lb->b, rx_syscalls, 1);
		s->rcount = (unsigned int)ret;
		s->ri = 0;
		s->roff = 0;
		s->rparsed = false;
	}
	{
		uint64_t bytes = 0;

		for (k = 0; k < filled; k++)
			bytes += pkts[k].len;
		VG_STAT_ADD(&lb->b, rx_packets, filled);
		VG_STAT_ADD(&lb->b, rx_bytes, bytes);
	}
	return (int)filled;
}

/* GRO never on: the kernel writes straight into the caller's buffers. */
static int recv_direct(struct linux_bind *lb, struct lsock *s, struct vg_rx_pkt *pkts,
		       unsigned int n)
{
	unsigned int k, out = 0;
	uint64_t bytes = 0;
	int ret;

	if (n > VG_BIND_BATCH)
		n = VG_BIND_BATCH;
	for (k = 0; k < n; k++) {
		lb->diov[k].iov_base = pkts[k].data;
		lb->diov[k].iov_len = pkts[k].cap;
		prep_rx(&lb->dmsg[k], &lb->diov[k], &lb->daddr[k], &lb->dctl[k]);
	}
	do {
		ret = do_recvmmsg(lb, s->fd, lb->dmsg, n);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return rx_error(&lb->b, errno);
	VG_STAT_ADD(&lb->b, rx_syscalls, ret > 0);
	for (k = 0; k < (unsigned int)ret; k++) {
		struct msghdr *h = &lb->dmsg[k].msg_hdr;
		unsigned int len = lb->dmsg[k].msg_len;

		if ((h->msg_flags & MSG_TRUNC) || len > pkts[k].cap) {
			VG_STAT_ADD(&lb->b, rx_truncated, 1);
			continue;
		}
		/* Rare: a dropped slot before this one; move the bytes down. */
		if (out != k) {
			if (len > pkts[out].cap) {
				VG_STAT_ADD(&lb->b, rx_truncated, 1);
				continue;
			}
			memmove(pkts[out].data, pkts[k].data, len);
		}
		pkts[out].len = len;
		rx_endpoint(h, &pkts[out].ep);
		bytes += len;
		out++;
	}
	VG_STAT_ADD(&lb->b, rx_packets, out);
	VG_STAT_ADD(&lb->b, rx_bytes, bytes);
	return (int)out;
}

static int linux_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n)
{
	struct linux_bind *lb = to_lb(b);
	int i = fam_index(family);

	if (i < 0 || lb->s[i].fd < 0)
		return -EBADF;
	if (lb->s[i].gro_ever)
		return recv_gro(lb, &lb->s[i], pkts, n);
	return recv_direct(lb, &lb->s[i], pkts, n);
}

static bool linux_pending(const struct vg_bind *b, int family)
{
	int i = fam_index(family);

	return i >= 0 && to_lb(b)->s[i].ri < to_lb(b)->s[i].rcount;
}

/* ---- send ---- */

struct tx {
	struct linux_bind *lb;
	struct lsock *s;
	int idx;
	struct vg_endpoint *ep;
	const struct iovec *pkts;
	unsigned int n;
	unsigned int done;	/* datagrams finished (sent or counted) */
	bool no_gso;		/* this batch goes without UDP_SEGMENT */
	bool sticky_retried;
};

static unsigned int build(struct tx *t)
{
	struct linux_bind *lb = t->lb;
	bool gso = !t->no_gso && (vg_bind_offloads(&lb->b) & gso_bit(t->idx));
	size_t max_bytes = t->idx ? VG_UDP_GSO_MAX_BYTES_V6 : VG_UDP_GSO_MAX_BYTES_V4;
	socklen_t namelen = vg_endpoint_dst_len(t->ep);
	unsigned int nm, consumed, k;
	size_t sticky;

	nm = vg_gso_plan(t->pkts + t->done, t->n - t->done, gso ? VG_UDP_GSO_MAX_SEGS : 1,
			 max_bytes, t->s->gso_max_seg, lb->plan, VG_BIND_BATCH, &consumed);
	/* One endpoint per batch: its PKTINFO is built once, then copied. */
	sticky = vg_sticky_build(t->ep, lb->tctl[0].buf, sizeof(lb->tctl[0].buf));
	for (k = 0; k < nm; k++) {
		struct vg_gso_msg *p = &lb->plan[k];
		struct msghdr *h = &lb->tmsg[k].msg_hdr;
		size_t ctl = sticky;

		if (k && sticky)
			memcpy(lb->tctl[k].buf, lb->tctl[0].buf, sticky);
		if (p->gso_size)
			ctl += vg_cmsg_put_gso(lb->tctl[k].buf + ctl, sizeof(lb->tctl[k].buf) - ctl,
					       p->gso_size);
		*h = (struct msghdr){
			.msg_name = &t->ep->dst,
			.msg_namelen = namelen,
			.msg_iov = (struct iovec *)(t->pkts + t->done + p->first),
			.msg_iovlen = p->count,
			/* No control bytes at all when there is nothing to say. */
			.msg_control = ctl ? lb->tctl[k].buf : NULL,
			.msg_controllen = ctl,
		};
		lb->tmsg[k].msg_len = 0;
	}
	return nm;
}

static void sent_ok(struct tx *t, const struct vg_gso_msg *p)
{
	struct vg_bind *b = &t->lb->b;

	VG_STAT_ADD(b, tx_packets, p->count);
	VG_STAT_ADD(b, tx_bytes, p->bytes);
	if (p->gso_size) {
		VG_STAT_ADD(b, tx_gso_msgs, 1);
		VG_STAT_ADD(b, tx_gso_datagrams, p->count);
	}
}

static bool unreachable(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case EPERM:
	case EACCES:
	case EADDRNOTAVAIL:
		return true;
	}
	return false;
}

/* What the kernel says when a cached source is no longer ours (EINVAL on
 * older kernels, ENETUNREACH from the route lookup on newer ones) or its
 * interface is gone. A genuine unreachable fails the retry and is counted. */
static bool stale_source(int err)
{
	return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH || err == EHOSTUNREACH ||
	       err == ENODEV;
}

static int wait_writable(struct tx *t)
{
	struct pollfd pfd = { .fd = t->s->fd, .events = POLLOUT };
	int ret;

	VG_STAT_ADD(&t->lb->b, tx_eagain, 1);
	do {
		ret = poll(&pfd, 1, WRITABLE_WAIT_MS);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret ? 0 : -ETIMEDOUT;
}

enum { TX_NEXT, TX_REBUILD, TX_RETRY };

/* Decides what a failed first message means; returns TX_* or -errno. */
static int tx_error(struct tx *t, const struct vg_gso_msg *p, int err)
{
	struct linux_bind *lb = t->lb;
	struct vg_bind *b = &lb->b;

	if (err == EAGAIN || err == EWOULDBLOCK) {
		int ret = wait_writable(t);

		return ret ? ret : TX_RETRY;
	}
	if (err == EINTR)
		return TX_RETRY;
	if (err == EIO && p->gso_size) {
		/* The egress device cannot checksum segments: GSO off for the family. */
		lb->eio_off |= gso_bit(t->idx);
		apply_gso_state(lb, t->idx);
		VG_STAT_ADD(b, tx_gso_eio, 1);
		vg_bind_log_once(b, VG_LOG_GSO_EIO, "%s UDP GSO refused (EIO): turned off",
				 fam_name(t->idx));
		t->no_gso = true;
		return TX_REBUILD;
	}
	if ((err == EINVAL || err == EMSGSIZE) && p->gso_size) {
		/* The path refuses this segment size (MTU, or an old kernel's
		 * limits); remember it unless a stale source may be the cause. */
		if (err == EMSGSIZE || !t->ep->has_src)
			t->s->gso_max_seg = p->gso_size - 1u;
		if (err == EMSGSIZE)
			VG_STAT_ADD(b, tx_gso_emsgsize, 1);
		else
			VG_STAT_ADD(b, tx_gso_einval, 1);
		vg_bind_log_once(b, err == EMSGSIZE ? VG_LOG_GSO_EMSGSIZE : VG_LOG_GSO_EINVAL,
				 "%s UDP GSO of %u-byte segments refused (%s): sending them singly",
				 fam_name(t->idx), p->gso_size, strerror(err));
		t->no_gso = true;
		return TX_REBUILD;
	}
	if (stale_source(err) && t->ep->has_src && !t->sticky_retried) {
		char src[VG_ENDPOINT_STRLEN];

		vg_endpoint_format(t->ep, src, sizeof(src));
		vg_endpoint_clear_src(t->ep);
		t->sticky_retried = true;
		VG_STAT_ADD(b, tx_sticky_einval, 1);
		vg_bind_log_once(b, VG_LOG_STICKY,
				 "sticky source for %s refused (%s): cleared, retrying without",
				 src, strerror(err));
		return TX_REBUILD;
	}
	if (err == EBADF || err == ENOTSOCK || err == EFAULT)
		return -err;
	if (unreachable(err)) {
		VG_STAT_ADD(b, tx_unreachable, p->count);
		vg_bind_log_once(b, VG_LOG_UNREACH, "send: %s (counted, not fatal)", strerror(err));
	} else {
		VG_STAT_ADD(b, tx_errors, p->count);
		vg_bind_log_once(b, VG_LOG_TXERR, "send: %s (datagrams dropped and counted)",
				 strerror(err));
	}
	return TX_NEXT;
}

/* Sends what build() planned; returns 0 when done, TX_REBUILD, or -errno. */
static int send_planned(struct tx *t, unsigned int nm)
{
	unsigned int k = 0, base = t->done;
	int ret;

	while (k < nm) {
		ret = do_sendmmsg(t->lb, t->s->fd, t->lb->tmsg + k, nm - k);
		VG_STAT_ADD(&t->lb->b, tx_syscalls, 1);
		if (ret > 0) {
			for (int j = 0; j < ret; j++)
				sent_ok(t, &t->lb->plan[k + (unsigned int)j]);
			k += (unsigned int)ret;
			t->done = base + t->lb->plan[k - 1].first + t->lb->plan[k - 1].count;
			continue;
		}
		/* sendmmsg never returns 0 for a non-empty vector; should it, drop
		 * and count that message rather than spin or blame GSO. */
		ret = tx_error(t, &t->lb->plan[k], ret < 0 ? errno : ENOBUFS);
		if (ret < 0)
			return ret;
		if (ret == TX_RETRY)
			continue;
		if (ret == TX_REBUILD) {
			t->done = base + t->lb->plan[k].first;
			return TX_REBUILD;
		}
		t->done = base + t->lb->plan[k].first + t->lb->plan[k].count;
		k++;
	}
	return 0;
}

static int linux_send(struct vg_bind *b, struct vg_endpoint *ep, const struct iovec *pkts,
		      unsigned int n)
{
	struct linux_bind *lb = to_lb(b);
	struct tx t = { .lb = lb, .ep = ep, .pkts = pkts, .n = n };
	int ret;

	t.idx = fam_index(vg_endpoint_family(ep));
	if (t.idx < 0 || lb->s[t.idx].fd < 0)
		return -EAFNOSUPPORT;
	t.s = &lb->s[t.idx];
	while (t.done < n) {
		ret = send_planned(&t, build(&t));
		if (ret < 0)
			return ret;
	}
	return (int)n;
}

static int linux_set_fwmark(struct vg_bind *b, uint32_t mark)
{
	struct linux_bind *lb = to_lb(b);

	for (int i = 0; i < 2; i++) {
		if (lb->s[i].fd < 0)
			continue;
		if (setint(lb->s[i].fd, SOL_SOCKET, SO_MARK, (int)mark))
			return -errno;
		/* Marked traffic may take another path: re-learn what it takes. */
		lb->s[i].gso_max_seg = VG_UDP_MAX_DATAGRAM;
	}
	return 0;
}

static int linux_rebind_prepare(struct vg_bind *b, uint16_t port, void **state)
{
	struct prepared *p = malloc(sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	ret = open_pair(b, port, p);
	if (ret) {
		free(p);
		return ret;
	}
	*state = p;
	return 0;
}

static uint16_t linux_prepared_port(void *state)
{
	return ((struct prepared *)state)->port;
}

static void linux_rebind_commit(struct vg_bind *b, void *state)
{
	install(to_lb(b), state);
	free(state);
}

static void linux_rebind_abort(void *state)
{
	close_fds(((struct prepared *)state)->fd);
	free(state);
}

static int linux_set_offload(struct vg_bind *b, unsigned int mask, bool on)
{
	struct linux_bind *lb = to_lb(b);

	if (on) {
		lb->user_off &= ~mask;
		lb->eio_off &= ~mask;
	} else {
		lb->user_off |= mask;
	}
	for (int i = 0; i < 2; i++) {
		if (mask & gso_bit(i)) {
			lb->s[i].gso_max_seg = VG_UDP_MAX_DATAGRAM;
			apply_gso_state(lb, i);
		}
		if (mask & gro_bit(i))
			apply_gro_state(lb, i);
	}
	return 0;
}

static const struct vg_bind_ops linux_ops = {
	.recv = linux_recv,
	.pending = linux_pending,
	.send = linux_send,
	.fd = linux_fd,
	.set_fwmark = linux_set_fwmark,
	.rebind_prepare = linux_rebind_prepare,
	.prepared_port = linux_prepared_port,
	.rebind_commit = linux_rebind_commit,
	.rebind_abort = linux_rebind_abort,
	.set_offload = linux_set_offload,
	.close = linux_close,
};
