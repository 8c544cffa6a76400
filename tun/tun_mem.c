// SPDX-License-Identifier: MIT
/*
 * The in-memory TUN: each queue is a SOCK_SEQPACKET pair (message
 * boundaries like a TUN fd, pollable, no root), events travel through a
 * pipe.  It runs the same batch code as the Linux TUN, so tests of the
 * layers above see super-packets and coalesced writes as the kernel would
 * produce and accept them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "tun/ip.h"
#include "tun/tun_impl.h"
#include "tun/virtio.h"

#define MEM_MAX_ADDRS 16

struct tun_mem {
	int peer[TUN_MAX_QUEUES];
	int ev_wr;
	unsigned int mtu;
	bool reject_gso;
	bool uso;
	/* The host as tests describe it; the test thread writes, the device
	 * threads read. */
	pthread_mutex_t host_lock;
	struct tun_addr addrs[MEM_MAX_ADDRS];
	unsigned int naddrs;
	int snat_fam;
	uint8_t snat_from[16], snat_to[16];
};

static struct tun_mem *mem(const struct tun *t)
{
	return t->priv;
}

static ssize_t mem_xmit(struct tun *t, unsigned int q, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	ssize_t n;

	if (t->vnet_hdr) {
		if (len < VNET_HDR_LEN)
			return -EINVAL;
		if (b[1] != VIRTIO_NET_HDR_GSO_NONE && mem(t)->reject_gso)
			return -EINVAL;
		/* A kernel without USO does not know this GSO type. */
		if (b[1] == VIRTIO_NET_HDR_GSO_UDP_L4 && !mem(t)->uso)
			return -EINVAL;
		b += VNET_HDR_LEN;
	}
	/* The kernel drops a loopback source arriving on a TUN (a martian);
	 * the start-up probe relies on that. */
	if ((size_t)(b - (const uint8_t *)buf) + 20 <= len && b[0] >> 4 == 4 &&
	    b[12] == 127)
		return len;
	n = send(t->q[q].fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

static int mem_get_mtu(struct tun *t)
{
	return mem(t)->mtu;
}

static int mem_set_mtu(struct tun *t, unsigned int mtu)
{
	struct tun_event ev = { .type = TUN_EVENT_MTU, .mtu = mtu };

	if (mtu < 68 || mtu > TUN_MAX_PACKET)
		return -EINVAL;
	mem(t)->mtu = mtu;
	return tun_mem_push_event(t, &ev);	/* as rtnetlink would */
}

static int mem_event(struct tun *t, struct tun_event *ev)
{
	ssize_t n = read(t->event_fd, ev, sizeof(*ev));

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n == sizeof(*ev) ? 1 : -EIO;
}

static int mem_addrs(struct tun *t, struct tun_addr *out, unsigned int cap)
{
	struct tun_mem *m = mem(t);
	unsigned int n;

	pthread_mutex_lock(&m->host_lock);
	n = m->naddrs;
	memcpy(out, m->addrs, (n < cap ? n : cap) * sizeof(*out));
	pthread_mutex_unlock(&m->host_lock);
	return (int)n;
}

static int mem_orig_source(struct tun *t, const uint8_t *pkt, size_t len, uint8_t *out)
{
	struct tun_mem *m = mem(t);
	int fam = ip_family(pkt, len), ret = -ENOENT;
	size_t alen = fam == AF_INET ? 4 : 16;

	pthread_mutex_lock(&m->host_lock);
	if (fam && fam == m->snat_fam && !memcmp(ip_src_addr(pkt, fam), m->snat_from, alen)) {
		memcpy(out, m->snat_to, alen);
		ret = 0;
	}
	pthread_mutex_unlock(&m->host_lock);
	return ret;
}

static void mem_destroy(struct tun *t)
{
	struct tun_mem *m = mem(t);
	unsigned int i;

	if (m) {
		for (i = 0; i < t->nqueues; i++)
			if (m->peer[i] >= 0)
				close(m->peer[i]);
		if (m->ev_wr >= 0)
			close(m->ev_wr);
		pthread_mutex_destroy(&m->host_lock);
		free(m);
	}
	if (t->event_fd >= 0)
		close(t->event_fd);
	tun_core_free(t);
}

static const struct tun_ops mem_ops = {
	.xmit = mem_xmit,
	.get_mtu = mem_get_mtu,
	.set_mtu = mem_set_mtu,
	.event = mem_event,
	.addrs = mem_addrs,
	.orig_source = mem_orig_source,
	.destroy = mem_destroy,
};

static int mem_queue(struct tun *t, unsigned int i)
{
	int sv[2], sz = 4 << 20;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Room for a few 64 KiB frames each way; best effort. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	t->q[i].fd = sv[0];
	mem(t)->peer[i] = sv[1];
	return 0;
}

int tun_mem_open(struct tun **out, const char *name,
		 const struct tun_mem_options *opts)
{
	const struct tun_options *o = &opts->tun;
	unsigned int nq = o->queues ? o->queues : 1, i;
	struct tun_mem *m;
	struct tun *t;
	int p[2], ret;

	if (!name || strlen(name) >= IFNAMSIZ || nq > TUN_MAX_QUEUES)
		return -EINVAL;
	t = tun_core_alloc(&mem_ops, nq, o);
	if (!t)
		return -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m) {
		tun_core_free(t);
		return -ENOMEM;
	}
	t->priv = m;
	pthread_mutex_init(&m->host_lock, NULL);
	t->local_source_ok = true;
	m->ev_wr = -1;
	for (i = 0; i < TUN_MAX_QUEUES; i++)
		m->peer[i] = -1;
	snprintf(t->name, IFNAMSIZ, "%s", name);
	t->ifindex = 1000;
	m->mtu = o->mtu ? o->mtu : TUN_DEFAULT_MTU;
	t->last_mtu = m->mtu;
	m->reject_gso = opts->reject_gso;
	m->uso = opts->uso;
	for (i = 0; i < nq; i++) {
		ret = mem_queue(t, i);
		if (ret < 0)
			goto fail;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		ret = -errno;
		goto fail;
	}
	t->event_fd = p[0];
	m->ev_wr = p[1];
	t->vnet_hdr = !o->no_vnet_hdr;
	if (t->vnet_hdr) {
		t->requested = TUN_F_CSUM | (o->no_tso ? 0 : TUN_F_TSO4 | TUN_F_TSO6) |
			       (o->no_uso ? 0 : TUN_F_USO4 | TUN_F_USO6);
		t->accepted = t->requested & (TUN_F_CSUM |
			(opts->tso ? TUN_F_TSO4 | TUN_F_TSO6 : 0) |
			(opts->uso ? TUN_F_USO4 | TUN_F_USO6 : 0));
	}
	tun_core_features(t, o, opts->uso);
	if (!o->no_gro_probe)
		tun_core_probe_gro(t);
	*out = t;
	return 0;
fail:
	mem_destroy(t);
	return ret;
}

int tun_mem_inject(struct tun *t, unsigned int q, const void *frame, size_t len)
{
	if (t->ops != &mem_ops || q >= t->nqueues)
		return -EINVAL;
	if (send(mem(t)->peer[q], frame, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

ssize_t tun_mem_take(struct tun *t, unsigned int q, void *buf, size_t cap)
{
	ssize_t n;

	if (t->ops != &mem_ops || q >= t->nqueues)
		return -EINVAL;
	n = recv(mem(t)->peer[q], buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return -errno;
	return (size_t)n > cap ? -EMSGSIZE : n;
}

int tun_mem_peer_fd(const struct tun *t, unsigned int q)
{
	if (t->ops != &mem_ops || q >= t->nqueues)
		return -1;
	return mem(t)->peer[q];
}

int tun_mem_push_event(struct tun *t, const struct tun_event *ev)
{
	if (t->ops != &mem_ops)
		return -EINVAL;
	if (write(mem(t)->ev_wr, ev, sizeof(*ev)) != sizeof(*ev))
		return -errno;
	return 0;
}

int tun_mem_delete(struct tun *t)
{
	struct tun_event ev = { .type = TUN_EVENT_CLOSED };
	unsigned int i;

	if (t->ops != &mem_ops)
		return -EINVAL;
	for (i = 0; i < t->nqueues; i++)
		shutdown(mem(t)->peer[i], SHUT_RDWR);
	return tun_mem_push_event(t, &ev);
}

int tun_mem_set_addrs(struct tun *t, const struct tun_addr *a, unsigned int n)
{
	struct tun_event ev = { .type = TUN_EVENT_ADDR };
	struct tun_mem *m;

	if (t->ops != &mem_ops || n > MEM_MAX_ADDRS)
		return -EINVAL;
	m = mem(t);
	pthread_mutex_lock(&m->host_lock);
	memcpy(m->addrs, a, n * sizeof(*a));
	m->naddrs = n;
	pthread_mutex_unlock(&m->host_lock);
	return tun_mem_push_event(t, &ev);
}

int tun_mem_set_snat(struct tun *t, int fam, const uint8_t *from, const uint8_t *to)
{
	struct tun_mem *m;
	size_t alen = fam == AF_INET ? 4 : 16;

	if (t->ops != &mem_ops)
		return -EINVAL;
	m = mem(t);
	pthread_mutex_lock(&m->host_lock);
	m->snat_fam = fam;
	if (fam) {
		memcpy(m->snat_from, from, alen);
		memcpy(m->snat_to, to, alen);
	}
	pthread_mutex_unlock(&m->host_lock);
	return 0;
}
