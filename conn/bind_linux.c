// SPDX-License-Identifier: MIT
/*
 * The Linux bind: an IPv4 and an IPv6 UDP socket on one port, recvmmsg with
 * UDP_GRO (bind_linux_recv.c), sendmmsg with UDP_SEGMENT (bind_linux_send.c),
 * sticky sources, and the fallbacks that keep packets flowing when an
 * offload or a cached source is refused.  This file opens, rebinds, marks
 * and closes the sockets and keeps the offload states.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn/bind_linux.h"
#include "conn/cmsg.h"

#define PORT_TRIES 100

struct prepared {
	int fd[2];
	bool gso[2], gro[2];
	uint16_t port;
};

static const struct vg_bind_ops linux_ops;

static int setint(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val)) ? -errno : 0;
}

static int set_mark(struct vg_bind *b, int fd, uint32_t mark)
{
	const struct vg_bind_syscalls *sc = &to_lb(b)->sc;
	int val = (int)mark;

	if (!sc->setsockopt)
		return setint(fd, SOL_SOCKET, SO_MARK, val);
	return sc->setsockopt(sc->arg, fd, SOL_SOCKET, SO_MARK, &val, sizeof(val)) ? -errno : 0;
}

static void set_bufs(struct vg_bind *b, int fd)
{
	int size = b->cfg.sockbuf, rsize = b->cfg.rcvbuf;

	/* FORCE ignores rmem_max/wmem_max but needs CAP_NET_ADMIN. */
	if (setint(fd, SOL_SOCKET, SO_RCVBUFFORCE, rsize) &&
	    setint(fd, SOL_SOCKET, SO_RCVBUF, rsize))
		vg_bind_log_once(b, VG_LOG_SOCKBUF, "cannot set socket buffers to %d bytes", rsize);
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
		ret = set_mark(b, fd, b->cfg.fwmark);
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

void vg_bind_linux_gso_state(struct linux_bind *lb, int i)
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
		vg_bind_linux_gso_state(lb, i);
		apply_gro_state(lb, i);
	}
	lb->b.port = p->port;
}

/* A bind with no sockets yet and the user's off switches. */
static struct linux_bind *linux_bind_new(const struct vg_bind_config *cfg)
{
	struct linux_bind *lb = calloc(1, sizeof(*lb));

	if (!lb)
		return NULL;
	vg_bind_init(&lb->b, &linux_ops, cfg);
	lb->s[0].fd = lb->s[1].fd = -1;
	if (cfg->no_gso)
		lb->user_off |= VG_BIND_GSO;
	if (cfg->no_gro)
		lb->user_off |= VG_BIND_GRO;
	return lb;
}

int vg_bind_open(struct vg_bind **out, const struct vg_bind_config *cfg)
{
	struct linux_bind *lb = linux_bind_new(cfg);
	struct prepared p;
	int ret;

	if (!lb)
		return -ENOMEM;
	ret = open_pair(&lb->b, cfg->port, &p);
	if (ret) {
		free(lb);
		return ret;
	}
	install(lb, &p);
	*out = &lb->b;
	return 0;
}

int vg_bind_adopt(struct vg_bind **out, const struct vg_bind_config *cfg, int fd4, int fd6)
{
	struct linux_bind *lb;
	struct prepared p = { .fd = { fd4, fd6 } };
	int i, ret;

	if (fd4 < 0 && fd6 < 0)
		return -EBADF;
	for (i = 0; i < 2; i++) {
		if (p.fd[i] < 0)
			continue;
		ret = local_port(p.fd[i], &p.port);
		if (ret)
			return ret;
		p.gso[i] = gso_supported(p.fd[i]);
	}
	lb = linux_bind_new(cfg);
	if (!lb)
		return -ENOMEM;
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

	return i < 0 ? -1 : sock_fd(&to_lb(b)->s[i]);
}

static void forget(struct linux_bind *lb, int i, int err)
{
	/* The number may name someone else's file by now: never use or
	 * close it again. */
	__atomic_store_n(&lb->s[i].fd, -1, __ATOMIC_RELAXED);
	vg_bind_mark_lost(&lb->b, err);
}

void vg_bind_linux_lost(struct linux_bind *lb, int i, int err)
{
	forget(lb, i, err);
	vg_bind_log_once(&lb->b, VG_LOG_LOST, "%s socket lost underneath (%s): forgotten",
			 fam_name(i), strerror(err));
}

/* Each socket must still answer as a socket of its family on our port. */
static int linux_probe(struct vg_bind *b)
{
	struct linux_bind *lb = to_lb(b);
	int i, err = 0;

	for (i = 0; i < 2; i++) {
		int fd = sock_fd(&lb->s[i]), e = 0;
		union vg_sockaddr a;
		socklen_t len = sizeof(a);

		if (fd < 0)
			continue;
		if (getsockname(fd, &a.sa, &len))
			e = sock_lost_err(errno) ? errno : 0;
		else if (a.sa.sa_family != lb->s[i].family ||
			 ntohs(i ? a.in6.sin6_port : a.in4.sin_port) != b->port)
			e = ESTALE;
		if (!e)
			continue;
		forget(lb, i, e);
		err = e;
	}
	return -err;
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

static int linux_set_fwmark(struct vg_bind *b, uint32_t mark)
{
	struct linux_bind *lb = to_lb(b);
	int i, ret;

	for (i = 0; i < 2; i++) {
		if (lb->s[i].fd < 0)
			continue;
		ret = set_mark(b, lb->s[i].fd, mark);
		if (ret)
			goto undo;
		/* Marked traffic may take another path: re-learn what it takes. */
		lb->s[i].gso_max_seg = VG_UDP_MAX_DATAGRAM;
	}
	return 0;
undo:
	/* Both sockets or neither: the IPv4 one gets back the mark it had. */
	if (i == 1 && lb->s[0].fd >= 0)
		set_mark(b, lb->s[0].fd, b->cfg.fwmark);
	return ret;
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
			vg_bind_linux_gso_state(lb, i);
		}
		if (mask & gro_bit(i))
			apply_gro_state(lb, i);
	}
	return 0;
}

static const struct vg_bind_ops linux_ops = {
	.recv = vg_bind_linux_recv,
	.recv_lent = vg_bind_linux_recv_lent,
	.pending = vg_bind_linux_pending,
	.send = vg_bind_linux_send,
	.fd = linux_fd,
	.set_fwmark = linux_set_fwmark,
	.rebind_prepare = linux_rebind_prepare,
	.prepared_port = linux_prepared_port,
	.rebind_commit = linux_rebind_commit,
	.rebind_abort = linux_rebind_abort,
	.set_offload = linux_set_offload,
	.probe = linux_probe,
	.close = linux_close,
};
