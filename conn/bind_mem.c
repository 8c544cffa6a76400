// SPDX-License-Identifier: MIT
/*
 * The in-memory bind: binds on one vg_memnet reach each other by port, with
 * an eventfd per family so epoll loops run unchanged. It coalesces like the
 * kernel: a run of equal-size datagrams sent together reaches a receiver
 * with GRO on as one batch, split by the same code as the Linux bind.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>

#include "conn/batch.h"
#include "conn/bind_impl.h"

#define MEMNET_MAX_BINDS 256
#define MEMNET_FIRST_PORT 40000

struct mem_dgram {
	uint8_t *data;
	size_t len;
	size_t off;		/* handed out so far (GRO batches) */
	int gso;
	struct vg_endpoint ep;	/* as the receiver sees it */
};

struct mem_queue {
	int efd;
	struct mem_dgram q[VG_MEMNET_QUEUE];
	unsigned int head, count;
};

struct mem_bind {
	struct vg_bind b;
	struct vg_memnet *net;
	struct mem_queue rx[2];	/* [0] IPv4, [1] IPv6 */
};

struct vg_memnet {
	pthread_mutex_t lock;
	struct mem_bind *binds[MEMNET_MAX_BINDS];
	uint16_t next_port;
	vg_memnet_mark_fn mark_hook;
	void *mark_arg;
};

static const struct vg_bind_ops mem_ops;

struct vg_memnet *vg_memnet_new(void)
{
	struct vg_memnet *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	pthread_mutex_init(&net->lock, NULL);
	net->next_port = MEMNET_FIRST_PORT;
	return net;
}

void vg_memnet_free(struct vg_memnet *net)
{
	if (!net)
		return;
	pthread_mutex_destroy(&net->lock);
	free(net);
}

void vg_memnet_set_mark_hook(struct vg_memnet *net, vg_memnet_mark_fn hook, void *arg)
{
	pthread_mutex_lock(&net->lock);
	net->mark_hook = hook;
	net->mark_arg = arg;
	pthread_mutex_unlock(&net->lock);
}

unsigned int vg_memnet_list(struct vg_memnet *net, struct vg_memnet_info *out, unsigned int cap)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&net->lock);
	for (i = 0; i < MEMNET_MAX_BINDS; i++) {
		const struct mem_bind *m = net->binds[i];

		if (!m)
			continue;
		if (n < cap) {
			out[n].port = m->b.port;
			out[n].queue = m->b.cfg.queue;
			out[n].fwmark = m->b.cfg.fwmark;
		}
		n++;
	}
	pthread_mutex_unlock(&net->lock);
	return n;
}

/* SO_MARK as the Linux bind takes it: the test hook may refuse it. */
static int mem_mark(struct vg_memnet *net, unsigned int queue, uint32_t mark)
{
	vg_memnet_mark_fn hook;
	void *arg;

	pthread_mutex_lock(&net->lock);
	hook = net->mark_hook;
	arg = net->mark_arg;
	pthread_mutex_unlock(&net->lock);
	return hook ? hook(arg, queue, mark) : 0;
}

static int fam_index(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

static bool port_used(struct vg_memnet *net, uint16_t port, const struct mem_bind *self)
{
	for (unsigned int i = 0; i < MEMNET_MAX_BINDS; i++) {
		const struct mem_bind *m = net->binds[i];

		/* A REUSEPORT group shares a port, like the kernel allows. */
		if (m && m != self && m->b.port == port &&
		    !(m->b.cfg.queues > 1 && self && self->b.cfg.queues > 1))
			return true;
	}
	return false;
}

static uint16_t pick_port(struct vg_memnet *net)
{
	for (unsigned int tries = 0; tries < 65536; tries++) {
		uint16_t p = net->next_port++;

		if (net->next_port == 0)
			net->next_port = MEMNET_FIRST_PORT;
		if (p && !port_used(net, p, NULL))
			return p;
	}
	return 0;
}

static void q_drop_all(struct mem_queue *q)
{
	while (q->count) {
		free(q->q[q->head].data);
		q->head = (q->head + 1) % VG_MEMNET_QUEUE;
		q->count--;
	}
}

static void efd_set(struct mem_queue *q, bool readable)
{
	uint64_t v = 1;

	if (readable) {
		if (write(q->efd, &v, sizeof(v)) < 0)
			return;	/* counter full: already readable */
	} else {
		if (read(q->efd, &v, sizeof(v)) < 0)
			return;	/* already drained */
	}
}

int vg_bind_open_mem(struct vg_bind **out, struct vg_memnet *net,
		     const struct vg_bind_config *cfg)
{
	struct mem_bind *m = calloc(1, sizeof(*m));
	unsigned int slot;
	int ret = 0;

	if (!m)
		return -ENOMEM;
	vg_bind_init(&m->b, &mem_ops, cfg);
	m->net = net;
	for (int i = 0; i < 2; i++)
		m->rx[i].efd = -1;
	if (cfg->fwmark) {
		ret = mem_mark(net, cfg->queue, cfg->fwmark);
		if (ret)
			goto fail;
	}
	for (int i = 0; i < 2; i++) {
		if (i ? cfg->no_ipv6 : cfg->no_ipv4)
			continue;
		m->rx[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (m->rx[i].efd < 0) {
			ret = -errno;
			goto fail;
		}
		vg_bind_set_state(&m->b, i ? VG_BIND_GSO6 : VG_BIND_GSO4, !cfg->no_gso,
				  cfg->no_gso ? VG_BIND_REASON_SWITCH : VG_BIND_REASON_ON);
		vg_bind_set_state(&m->b, i ? VG_BIND_GRO6 : VG_BIND_GRO4, !cfg->no_gro,
				  cfg->no_gro ? VG_BIND_REASON_SWITCH : VG_BIND_REASON_ON);
	}
	pthread_mutex_lock(&net->lock);
	m->b.port = cfg->port ? cfg->port : pick_port(net);
	if (!m->b.port || port_used(net, m->b.port, m)) {
		ret = -EADDRINUSE;
	} else {
		for (slot = 0; slot < MEMNET_MAX_BINDS && net->binds[slot]; slot++)
			;
		if (slot == MEMNET_MAX_BINDS)
			ret = -ENFILE;
		else
			net->binds[slot] = m;
	}
	pthread_mutex_unlock(&net->lock);
	if (ret)
		goto fail;
	*out = &m->b;
	return 0;
fail:
	for (int i = 0; i < 2; i++)
		if (m->rx[i].efd >= 0)
			close(m->rx[i].efd);
	free(m);
	return ret;
}

static void mem_close(struct vg_bind *b)
{
	struct mem_bind *m = (struct mem_bind *)b;

	pthread_mutex_lock(&m->net->lock);
	for (unsigned int i = 0; i < MEMNET_MAX_BINDS; i++)
		if (m->net->binds[i] == m)
			m->net->binds[i] = NULL;
	pthread_mutex_unlock(&m->net->lock);
	for (int i = 0; i < 2; i++) {
		q_drop_all(&m->rx[i]);
		if (m->rx[i].efd >= 0)
			close(m->rx[i].efd);
	}
	free(m);
}

static int mem_fd(const struct vg_bind *b, int family)
{
	int i = fam_index(family);

	return i < 0 ? -1 : ((const struct mem_bind *)b)->rx[i].efd;
}

static int mem_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n)
{
	struct mem_bind *m = (struct mem_bind *)b;
	int i = fam_index(family);
	unsigned int filled = 0;
	struct mem_queue *q;
	uint64_t trunc = 0;

	if (i < 0 || m->rx[i].efd < 0)
		return -EBADF;
	q = &m->rx[i];
	pthread_mutex_lock(&m->net->lock);
	while (q->count && filled < n) {
		struct mem_dgram *d = &q->q[q->head];

		if (d->len == 0) {
			pkts[filled].len = 0;
			pkts[filled++].ep = d->ep;
		} else {
			filled += vg_gro_split(d->data, d->len, &d->off, d->gso, &d->ep,
					       pkts + filled, n - filled, &trunc);
			if (d->off < d->len)
				break;
		}
		if (d->gso && d->len > (size_t)d->gso) {
			VG_STAT_ADD(b, rx_gro_batches, 1);
			VG_STAT_ADD(b, rx_gro_datagrams, (d->len + (size_t)d->gso - 1) / (size_t)d->gso);
		}
		free(d->data);
		q->head = (q->head + 1) % VG_MEMNET_QUEUE;
		__atomic_store_n(&q->count, q->count - 1, __ATOMIC_RELAXED);
	}
	if (!q->count)
		efd_set(q, false);
	pthread_mutex_unlock(&m->net->lock);
	if (trunc)
		VG_STAT_ADD(b, rx_truncated, trunc);
	if (filled)
		VG_STAT_ADD(b, rx_syscalls, 1);
	for (unsigned int k = 0; k < filled; k++) {
		VG_STAT_ADD(b, rx_packets, 1);
		VG_STAT_ADD(b, rx_bytes, pkts[k].len);
	}
	return (int)filled;
}

static bool mem_pending(const struct vg_bind *b, int family)
{
	const struct mem_bind *m = (const struct mem_bind *)b;
	int i = fam_index(family);

	return i >= 0 && __atomic_load_n(&m->rx[i].count, __ATOMIC_RELAXED) > 0;
}

static uint16_t ep_port(const struct vg_endpoint *ep)
{
	return ntohs(vg_endpoint_family(ep) == AF_INET6 ? ep->dst.in6.sin6_port
							: ep->dst.in4.sin_port);
}

/* Receivers of one port are picked by a hash of the sender's port, so one
 * remote 4-tuple always lands on the same member, as with SO_REUSEPORT. */
static struct mem_bind *find_dst(struct vg_memnet *net, uint16_t port, int fi, uint16_t sport)
{
	struct mem_bind *cand[MEMNET_MAX_BINDS];
	unsigned int nc = 0;

	for (unsigned int i = 0; i < MEMNET_MAX_BINDS; i++) {
		struct mem_bind *m = net->binds[i];

		if (m && m->b.port == port && m->rx[fi].efd >= 0)
			cand[nc++] = m;
	}
	if (!nc)
		return NULL;
	return cand[(sport * 2654435761u) % nc];
}

/* How the receiver sees the sender: source address (the sticky source if
 * one was given, else loopback) and where it was sent to. */
static void seen_ep(const struct mem_bind *from, const struct vg_endpoint *to,
		    struct vg_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (vg_endpoint_family(to) == AF_INET) {
		ep->dst.in4.sin_family = AF_INET;
		ep->dst.in4.sin_port = htons(from->b.port);
		ep->dst.in4.sin_addr.s_addr = to->has_src ? to->src.in4.s_addr : htonl(INADDR_LOOPBACK);
		ep->src.in4 = to->dst.in4.sin_addr;
	} else {
		ep->dst.in6.sin6_family = AF_INET6;
		ep->dst.in6.sin6_port = htons(from->b.port);
		ep->dst.in6.sin6_addr = to->has_src ? to->src.in6 : in6addr_loopback;
		ep->src.in6 = to->dst.in6.sin6_addr;
	}
	ep->src_ifindex = 1;
	ep->has_src = true;
}

static void deliver(struct mem_bind *to, int fi, const struct iovec *pkts,
		    const struct vg_gso_msg *p, const struct vg_endpoint *ep)
{
	struct mem_queue *q = &to->rx[fi];
	struct mem_dgram *d;
	size_t off = 0;

	if (q->count == VG_MEMNET_QUEUE) {
		VG_STAT_ADD(&to->b, rx_errors, p->count);
		return;
	}
	d = &q->q[(q->head + q->count) % VG_MEMNET_QUEUE];
	d->data = malloc(p->bytes ? p->bytes : 1);
	if (!d->data) {
		VG_STAT_ADD(&to->b, rx_errors, p->count);
		return;
	}
	for (unsigned int k = 0; k < p->count; k++) {
		memcpy(d->data + off, pkts[p->first + k].iov_base, pkts[p->first + k].iov_len);
		off += pkts[p->first + k].iov_len;
	}
	d->len = p->bytes;
	d->off = 0;
	d->gso = p->gso_size;
	d->ep = *ep;
	if (!q->count)
		efd_set(q, true);
	__atomic_store_n(&q->count, q->count + 1, __ATOMIC_RELAXED);
}

static int mem_send(struct vg_bind *b, const struct vg_endpoint *ep, const struct iovec *pkts,
		    unsigned int n, unsigned int *result)
{
	struct mem_bind *m = (struct mem_bind *)b;
	int fi = fam_index(vg_endpoint_family(ep));
	struct vg_gso_msg plan[VG_BIND_BATCH];
	struct mem_bind *to;
	struct vg_endpoint seen;
	unsigned int done = 0;
	bool gso;

	(void)result;	/* the in-memory network refuses no source */
	if (fi < 0 || m->rx[fi].efd < 0)
		return -EAFNOSUPPORT;
	seen_ep(m, ep, &seen);
	pthread_mutex_lock(&m->net->lock);
	to = find_dst(m->net, ep_port(ep), fi, m->b.port);
	/* Coalesce only when both ends would: our GSO and their GRO. */
	gso = to && (vg_bind_offloads(b) & (fi ? VG_BIND_GSO6 : VG_BIND_GSO4)) &&
	      (vg_bind_offloads(&to->b) & (fi ? VG_BIND_GRO6 : VG_BIND_GRO4));
	while (done < n) {
		unsigned int consumed, nm;

		nm = vg_gso_plan(pkts + done, n - done, gso ? VG_UDP_GSO_MAX_SEGS : 1,
				 fi ? VG_UDP_GSO_MAX_BYTES_V6 : VG_UDP_GSO_MAX_BYTES_V4,
				 VG_UDP_MAX_DATAGRAM, plan, VG_BIND_BATCH, &consumed);
		for (unsigned int k = 0; k < nm; k++) {
			if (to)
				deliver(to, fi, pkts + done, &plan[k], &seen);
			VG_STAT_ADD(b, tx_packets, plan[k].count);
			VG_STAT_ADD(b, tx_bytes, plan[k].bytes);
			if (plan[k].gso_size) {
				VG_STAT_ADD(b, tx_gso_msgs, 1);
				VG_STAT_ADD(b, tx_gso_datagrams, plan[k].count);
			}
		}
		VG_STAT_ADD(b, tx_syscalls, 1);
		done += consumed;
	}
	pthread_mutex_unlock(&m->net->lock);
	if (!to)
		VG_STAT_ADD(b, tx_unreachable, n);
	return (int)n;
}

static int mem_set_fwmark(struct vg_bind *b, uint32_t mark)
{
	return mem_mark(((struct mem_bind *)b)->net, b->cfg.queue, mark);
}

struct mem_prepared {
	uint16_t port;
};

static int mem_rebind_prepare(struct vg_bind *b, uint16_t port, void **state)
{
	struct mem_bind *m = (struct mem_bind *)b;
	struct mem_prepared *p = malloc(sizeof(*p));
	int ret = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&m->net->lock);
	p->port = port ? port : pick_port(m->net);
	if (!p->port || port_used(m->net, p->port, m))
		ret = -EADDRINUSE;
	pthread_mutex_unlock(&m->net->lock);
	if (ret) {
		free(p);
		return ret;
	}
	*state = p;
	return 0;
}

static uint16_t mem_prepared_port(void *state)
{
	return ((struct mem_prepared *)state)->port;
}

static void mem_rebind_commit(struct vg_bind *b, void *state)
{
	struct mem_bind *m = (struct mem_bind *)b;

	pthread_mutex_lock(&m->net->lock);
	b->port = ((struct mem_prepared *)state)->port;
	pthread_mutex_unlock(&m->net->lock);
	free(state);
}

static void mem_rebind_abort(void *state)
{
	free(state);
}

static int mem_set_offload(struct vg_bind *b, unsigned int mask, bool on)
{
	struct mem_bind *m = (struct mem_bind *)b;

	for (int i = 0; i < 2; i++) {
		unsigned int bits = mask & (i ? VG_BIND_GSO6 | VG_BIND_GRO6 : VG_BIND_GSO4 | VG_BIND_GRO4);

		if (bits && m->rx[i].efd >= 0)
			vg_bind_set_state(b, bits, on, on ? VG_BIND_REASON_ON : VG_BIND_REASON_SWITCH);
	}
	return 0;
}

static const struct vg_bind_ops mem_ops = {
	.recv = mem_recv,
	.pending = mem_pending,
	.send = mem_send,
	.fd = mem_fd,
	.set_fwmark = mem_set_fwmark,
	.rebind_prepare = mem_rebind_prepare,
	.prepared_port = mem_prepared_port,
	.rebind_commit = mem_rebind_commit,
	.rebind_abort = mem_rebind_abort,
	.set_offload = mem_set_offload,
	.close = mem_close,
};
