// SPDX-License-Identifier: MIT
/*
 * The part of the TUN device every implementation shares: one read becomes
 * a batch of plain packets (offload_split), a batch of plain packets becomes
 * as few writes as possible (gro_batch), with counters, back-pressure and
 * the fallbacks for kernels that refuse coalesced writes.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tun/checksum.h"
#include "tun/ip.h"
#include "tun/offload.h"
#include "tun/tun_impl.h"
#include "tun/virtio.h"

/* How long a write waits for the queue to drain before it gives up. */
#define TUN_WRITE_WAIT_MS 10000

void tun_options_init(struct tun_options *o)
{
	memset(o, 0, sizeof(*o));
	o->queues = 1;
	o->mtu = TUN_DEFAULT_MTU;
}

bool tun_env_true(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return false;
	return strcmp(v, "0") && strcasecmp(v, "no") && strcasecmp(v, "false");
}

void tun_options_from_env(struct tun_options *o)
{
	o->no_vnet_hdr |= tun_env_true("VGUARD_NO_OFFLOAD");
	o->no_tso |= tun_env_true("VGUARD_NO_TSO");
	o->no_uso |= tun_env_true("VGUARD_NO_USO");
	o->no_tcp_gro |= tun_env_true("VGUARD_NO_TCP_GRO");
	o->no_udp_gro |= tun_env_true("VGUARD_NO_UDP_GRO");
	o->no_gro_probe |= tun_env_true("VGUARD_NO_GRO_PROBE");
}

bool tun_options_getopt(struct tun_options *o, int opt)
{
	switch (opt) {
	case TUN_OPT_NO_OFFLOAD: o->no_vnet_hdr = true; return true;
	case TUN_OPT_NO_TSO: o->no_tso = true; return true;
	case TUN_OPT_NO_USO: o->no_uso = true; return true;
	case TUN_OPT_NO_TCP_GRO: o->no_tcp_gro = true; return true;
	case TUN_OPT_NO_UDP_GRO: o->no_udp_gro = true; return true;
	}
	return false;
}

const char *tun_gso_kind_name(enum tun_gso_kind k)
{
	static const char *const names[TUN_GSO_KINDS] = {
		[TUN_GSO_TCP4] = "tcp4",
		[TUN_GSO_TCP6] = "tcp6",
		[TUN_GSO_UDP4] = "udp4",
		[TUN_GSO_UDP6] = "udp6",
	};

	return (unsigned int)k < TUN_GSO_KINDS ? names[k] : "?";
}

void tun_core_logf(struct tun *t, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t->log)
		t->log(t->log_ctx, msg);
	else
		fprintf(stderr, "vguard: %s: %s\n", t->name, msg);
}

struct tun *tun_core_alloc(const struct tun_ops *ops, unsigned int nqueues,
			   const struct tun_options *o)
{
	struct tun *t;
	unsigned int i;

	if (nqueues == 0 || nqueues > TUN_MAX_QUEUES)
		return NULL;
	t = calloc(1, sizeof(*t) + nqueues * sizeof(t->q[0]));
	if (!t)
		return NULL;
	t->ops = ops;
	t->nqueues = nqueues;
	t->event_fd = -1;
	t->log = o->log;
	t->log_fault = o->log_fault ? o->log_fault : o->log;
	t->log_ctx = o->log_ctx;
	for (i = 0; i < nqueues; i++) {
		struct tun_queue *q = &t->q[i];

		q->fd = -1;
		q->scratch = malloc(VNET_HDR_LEN + TUN_MAX_PACKET);
		q->gro = malloc(gro_table_size());
		if (!q->scratch || !q->gro)
			goto fail;
	}
	return t;
fail:
	tun_core_free(t);
	return NULL;
}

void tun_core_free(struct tun *t)
{
	unsigned int i;

	if (!t)
		return;
	for (i = 0; i < t->nqueues; i++) {
		if (t->q[i].fd >= 0)
			close(t->q[i].fd);
		free(t->q[i].scratch);
		free(t->q[i].gro);
	}
	free(t);
}

/* Read and write failures, each logged once per device. */
enum {
	TUN_LOG_READ = 1 << 0,
	TUN_LOG_WRITE_EIO = 1 << 1,
	TUN_LOG_WRITE_EINVAL = 1 << 2,
	TUN_LOG_WRITE_OTHER = 1 << 3,
};

static void log_once(struct tun *t, unsigned int event, const char *what, int err)
{
	char msg[256];

	if (__atomic_fetch_or(&t->err_logged, event, __ATOMIC_RELAXED) & event)
		return;
	snprintf(msg, sizeof(msg), "%s: %s (counted; logged once)", what, strerror(-err));
	if (t->log_fault)
		t->log_fault(t->log_ctx, msg);
	else
		fprintf(stderr, "vguard: %s: %s\n", t->name, msg);
}

static void write_failed(struct tun *t, int err)
{
	unsigned int ev = err == -EIO ? TUN_LOG_WRITE_EIO :
			  err == -EINVAL ? TUN_LOG_WRITE_EINVAL : TUN_LOG_WRITE_OTHER;

	log_once(t, ev, "write refused, packets dropped", err);
}

/* How many of the caller's packets a frame carries: a merged one, its
 * segments. */
static unsigned int frame_packets(const uint8_t *frame, size_t len)
{
	struct vnet_hdr h;

	if (frame[1] == VIRTIO_NET_HDR_GSO_NONE)
		return 1;
	vnet_hdr_decode(&h, frame);
	if (!h.gso_size || len <= (size_t)VNET_HDR_LEN + h.hdr_len)
		return 1;
	return (unsigned int)((len - VNET_HDR_LEN - h.hdr_len + h.gso_size - 1) / h.gso_size);
}

static int mark_gone(struct tun *t, int err)
{
	if (err == -EBADFD)
		__atomic_store_n(&t->gone, true, __ATOMIC_RELAXED);
	return err;
}

/* EAGAIN is an empty queue and EBADFD a deleted interface (an event, not
 * a fault); anything else is counted and logged once. */
static int read_failed(struct tun *t, struct tun_queue *q, int err)
{
	if (err != -EAGAIN && err != -EINTR && err != -EBADFD) {
		TUN_CNT_ADD(q, read_errors, 1);
		log_once(t, TUN_LOG_READ, "read", err);
	}
	return mark_gone(t, err);
}

static void count_gso(struct tun_queue *q, const uint8_t *frame, size_t len,
		      unsigned int segs)
{
	struct vnet_hdr h;
	int kind;
	bool v6 = len > VNET_HDR_LEN && (frame[VNET_HDR_LEN] >> 4) == 6;

	vnet_hdr_decode(&h, frame);
	switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		kind = TUN_GSO_TCP4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		kind = TUN_GSO_TCP6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		kind = v6 ? TUN_GSO_UDP6 : TUN_GSO_UDP4;
		break;
	default:
		return;
	}
	TUN_CNT_ADD(q, gso[kind].packets, 1);
	TUN_CNT_ADD(q, gso[kind].segments, segs);
	TUN_CNT_MAX(q, gso[kind].max_gso_size, h.gso_size);
	TUN_CNT_MAX(q, gso[kind].max_segments, segs);
}

int tun_read(struct tun *t, unsigned int qi, uint8_t *const *bufs,
	     size_t *sizes, size_t nbufs, size_t headroom)
{
	struct tun_queue *q;
	uint64_t bytes = 0;
	ssize_t n;
	int ret, i;

	if (qi >= t->nqueues || nbufs == 0)
		return -EINVAL;
	q = &t->q[qi];
	if (!t->vnet_hdr) {
		n = read(q->fd, bufs[0] + headroom, TUN_MAX_PACKET);
		if (n < 0)
			return read_failed(t, q, -errno);
		if (n == 0)	/* a TUN never reads 0: the other end is gone */
			return mark_gone(t, -EBADFD);
		TUN_CNT_ADD(q, reads, 1);
		TUN_CNT_ADD(q, read_packets, 1);
		TUN_CNT_ADD(q, read_bytes, n);
		sizes[0] = n;
		return 1;
	}
	n = read(q->fd, q->scratch, VNET_HDR_LEN + TUN_MAX_PACKET);
	if (n < 0)
		return read_failed(t, q, -errno);
	if (n == 0)
		return mark_gone(t, -EBADFD);
	TUN_CNT_ADD(q, reads, 1);
	ret = offload_split(q->scratch, n, bufs, sizes, nbufs, headroom,
			    headroom + TUN_MAX_PACKET);
	if (ret < 0) {
		TUN_CNT_ADD(q, malformed, 1);
		return 0;
	}
	if (q->scratch[1] != VIRTIO_NET_HDR_GSO_NONE)
		count_gso(q, q->scratch, n, ret);
	TUN_CNT_ADD(q, read_packets, ret);
	for (i = 0; i < ret; i++)
		bytes += sizes[i];
	TUN_CNT_ADD(q, read_bytes, bytes);
	return ret;
}

/* One frame out; EAGAIN waits for the queue to drain (back-pressure). */
static int xmit_wait(struct tun *t, unsigned int qi, const uint8_t *buf, size_t len)
{
	struct tun_queue *q = &t->q[qi];
	int waited = 0;

	for (;;) {
		ssize_t n = t->ops->xmit(t, qi, buf, len);
		struct pollfd p = { .fd = q->fd, .events = POLLOUT };

		if (n >= 0)
			return 0;
		if (n == -EINTR)
			continue;
		if (n != -EAGAIN)
			return mark_gone(t, (int)n);
		TUN_CNT_ADD(q, eagain, 1);
		if (waited >= TUN_WRITE_WAIT_MS)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return -errno;
		waited += 100;
	}
}

/*
 * The kernel refused a coalesced frame: send its segments one by one,
 * exactly as the kernel would have cut them.
 */
static int xmit_split(struct tun *t, unsigned int qi, const uint8_t *frame,
		      size_t len)
{
	struct vnet_hdr h;
	size_t cap, nseg, i, *sizes = NULL;
	uint8_t **bufs = NULL, *mem = NULL;
	int ret, err = 0;

	vnet_hdr_decode(&h, frame);
	if (h.gso_size == 0)
		return -EINVAL;
	nseg = (len / h.gso_size) + 2;
	if (nseg > OFFLOAD_MAX_SEGMENTS)
		nseg = OFFLOAD_MAX_SEGMENTS;
	cap = VNET_HDR_LEN + h.gso_size + 128;	/* IP + L4 headers at most 120 */
	bufs = calloc(nseg, sizeof(*bufs));
	sizes = calloc(nseg, sizeof(*sizes));
	mem = malloc(nseg * cap);
	if (!bufs || !sizes || !mem) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < nseg; i++)
		bufs[i] = mem + i * cap;
	ret = offload_split(frame, len, bufs, sizes, nseg, VNET_HDR_LEN, cap);
	if (ret < 0)
		goto fail;
	for (i = 0; i < (size_t)ret; i++) {
		int r;

		memset(bufs[i], 0, VNET_HDR_LEN);
		r = xmit_wait(t, qi, bufs[i], sizes[i] + VNET_HDR_LEN);
		if (r < 0) {
			TUN_CNT_ADD(&t->q[qi], write_errors, 1);
			write_failed(t, r);
			if (!err)
				err = r;
			continue;
		}
		TUN_CNT_ADD(&t->q[qi], writes, 1);
	}
	ret = err;
	goto out;
fail:
	/* Nothing of the frame was written. */
	TUN_CNT_ADD(&t->q[qi], write_errors, frame_packets(frame, len));
	write_failed(t, ret);
out:
	free(bufs);
	free(sizes);
	free(mem);
	return ret;
}

static int write_plain(struct tun *t, unsigned int qi, uint8_t *const *bufs,
		       size_t *lens, size_t n, size_t headroom)
{
	struct tun_queue *q = &t->q[qi];
	size_t i, sent = 0;
	int err = 0;

	for (i = 0; i < n; i++) {
		uint8_t *p = bufs[i] + headroom;
		size_t len = lens[i];
		int r;

		if (t->vnet_hdr) {
			p -= VNET_HDR_LEN;
			memset(p, 0, VNET_HDR_LEN);
			len += VNET_HDR_LEN;
		}
		r = xmit_wait(t, qi, p, len);
		if (r < 0) {
			write_failed(t, r);
			if (!err)
				err = r;
			continue;
		}
		sent++;
	}
	/* Added once per batch: xmit_wait() is a call, so per-packet increments
	 * of q->c would each go to memory. */
	TUN_CNT_ADD(q, writes, sent);
	TUN_CNT_ADD(q, write_errors, n - sent);
	return err;
}

int tun_write(struct tun *t, unsigned int qi, uint8_t *const *bufs,
	      size_t *lens, size_t n, size_t headroom)
{
	struct gro_stats st = { 0 };
	uint64_t writes = 0, errors = 0, bytes = 0;
	struct tun_queue *q;
	unsigned int flags;
	int cnt, err = 0, i;

	if (qi >= t->nqueues || n > TUN_MAX_BATCH)
		return -EINVAL;
	if (t->vnet_hdr && headroom < VNET_HDR_LEN)
		return -EINVAL;
	q = &t->q[qi];
	TUN_CNT_ADD(q, write_packets, n);
	for (i = 0; i < (int)n; i++)
		bytes += lens[i];
	TUN_CNT_ADD(q, write_bytes, bytes);
	flags = __atomic_load_n(&t->gro_flags, __ATOMIC_RELAXED);
	if (!t->vnet_hdr || !flags || n < 2) {
		err = write_plain(t, qi, bufs, lens, n, headroom);
		return err ? err : (int)n;
	}
	if (q->gro_flags != flags) {
		gro_table_init(q->gro, flags);
		q->gro_flags = flags;
	}
	cnt = gro_batch(q->gro, bufs, lens, n, headroom, headroom + TUN_MAX_PACKET,
			q->out, &st);
	if (cnt < 0) {
		err = write_plain(t, qi, bufs, lens, n, headroom);
		return err ? err : (int)n;
	}
	for (i = 0; i < GRO_PROTOS; i++) {
		TUN_CNT_ADD(q, coalesced[i], st.coalesced[i]);
		TUN_CNT_ADD(q, merged[i], st.merged[i]);
	}
	TUN_CNT_ADD(q, bad_csum, st.bad_csum);
	for (i = 0; i < cnt; i++) {
		uint8_t *frame = bufs[q->out[i]] + headroom - VNET_HDR_LEN;
		size_t len = lens[q->out[i]] + VNET_HDR_LEN;
		int r = xmit_wait(t, qi, frame, len);

		if (r == -EINVAL && frame[1] != VIRTIO_NET_HDR_GSO_NONE) {
			TUN_CNT_ADD(q, rejected, 1);
			tun_core_gro_disable(t, GRO_TCP | GRO_UDP, TUN_REASON_WRITE_EINVAL);
			r = xmit_split(t, qi, frame, len);	/* counts its own */
			if (r < 0 && !err)
				err = r;
			continue;
		}
		if (r < 0) {
			errors += frame_packets(frame, len);
			write_failed(t, r);
			if (!err)
				err = r;
			continue;
		}
		writes++;
	}
	TUN_CNT_ADD(q, writes, writes);
	TUN_CNT_ADD(q, write_errors, errors);
	return err ? err : (int)n;
}

/*
 * A segment the kernel will discard: 127.0.0.1 to 127.0.0.1 arriving on a
 * non-loopback device is a martian.  Returns the IP length.
 */
static size_t probe_segment(uint8_t *p, uint8_t proto, unsigned int i)
{
	const size_t pay = 64;
	size_t l4 = proto == 6 ? 20 : 8;
	size_t len = 20 + l4 + pay;
	uint32_t s;

	memset(p, 0, len);
	p[0] = 0x45;
	ip_put16(p + 2, len);
	ip_put16(p + 4, 0x5647 + i);
	p[6] = 0x40;		/* DF */
	p[8] = 1;		/* TTL */
	p[9] = proto;
	p[12] = 127, p[15] = 1;
	p[16] = 127, p[19] = 1;
	ip_put16(p + 10, csum_ipv4_header(p, 20));
	ip_put16(p + 20, 9);	/* discard */
	ip_put16(p + 22, 9);
	memset(p + 20 + l4, 0xa5, pay);
	if (proto == 6) {
		uint32_t seq = 1000 + i * pay;

		p[24] = seq >> 24, p[25] = seq >> 16, p[26] = seq >> 8, p[27] = seq;
		p[31] = 1;	/* ack 1 */
		p[32] = 5 << 4;
		p[33] = 0x10;	/* ACK */
		ip_put16(p + 34, 512);
	} else {
		ip_put16(p + 24, l4 + pay);
	}
	s = csum_pseudo(p + 12, p + 16, 4, proto, l4 + pay);
	ip_put16(p + 20 + (proto == 6 ? 16 : 6), csum_finish(csum_partial(p + 20, l4 + pay, s)));
	return len;
}

/* Returns 0 when accepted, -EINVAL when refused, other errors as is. */
static int probe_one(struct tun *t, uint8_t proto, unsigned int flags)
{
	enum { HEAD = 16, CAP = HEAD + 512 };
	uint8_t mem[2][CAP] __attribute__((aligned(8)));
	uint8_t *bufs[2] = { mem[0], mem[1] };
	size_t lens[2];
	uint16_t out[2];
	struct gro_stats st = { 0 };
	struct gro_table *g = malloc(gro_table_size());
	ssize_t n;
	int cnt;

	if (!g)
		return -ENOMEM;
	gro_table_init(g, flags);
	lens[0] = probe_segment(mem[0] + HEAD, proto, 0);
	lens[1] = probe_segment(mem[1] + HEAD, proto, 1);
	cnt = gro_batch(g, bufs, lens, 2, HEAD, CAP, out, &st);
	free(g);
	if (cnt != 1)
		return -ENOTSUP;	/* our GRO did not merge: nothing to learn */
	n = t->ops->xmit(t, 0, bufs[out[0]] + HEAD - VNET_HDR_LEN,
			 lens[out[0]] + VNET_HDR_LEN);
	/* EIO: the interface is down, which the kernel checks after the
	 * virtio header, so the header itself was accepted. */
	if (n >= 0 || n == -EIO)
		return 0;
	return (int)n;
}

void tun_core_probe_gro(struct tun *t)
{
	unsigned int flags = __atomic_load_n(&t->gro_flags, __ATOMIC_RELAXED);

	if (!t->vnet_hdr || !flags)
		return;
	if ((flags & GRO_TCP) && probe_one(t, 6, GRO_TCP) == -EINVAL)
		tun_core_gro_disable(t, GRO_TCP | GRO_UDP, TUN_REASON_PROBE_TCP);
	flags = __atomic_load_n(&t->gro_flags, __ATOMIC_RELAXED);
	if ((flags & GRO_UDP) && probe_one(t, 17, GRO_UDP) == -EINVAL)
		tun_core_gro_disable(t, GRO_UDP, TUN_REASON_PROBE_UDP);
}

bool tun_core_filter_event(struct tun *t, struct tun_event *ev)
{
	if (t->closed)
		return false;
	switch (ev->type) {
	case TUN_EVENT_UP:
		if (t->is_up)
			return false;
		t->is_up = t->seen_up = true;
		return true;
	case TUN_EVENT_DOWN:
		if (!t->seen_up || !t->is_up)
			return false;
		t->is_up = false;
		return true;
	case TUN_EVENT_MTU:
		if (ev->mtu == t->last_mtu)
			return false;
		t->last_mtu = ev->mtu;
		return true;
	case TUN_EVENT_CLOSED:
		t->closed = true;
		return true;
	case TUN_EVENT_ADDR:
		return true;
	default:
		return false;
	}
}

int tun_event_read(struct tun *t, struct tun_event *ev)
{
	for (;;) {
		int r;

		if (t->closed)
			return 0;
		r = t->ops->event(t, ev);
		if (r <= 0) {
			if (__atomic_load_n(&t->gone, __ATOMIC_RELAXED)) {
				ev->type = TUN_EVENT_CLOSED;
				ev->mtu = 0;
				t->closed = true;
				return 1;
			}
			return r;
		}
		if (tun_core_filter_event(t, ev))
			return 1;
	}
}

int tun_addrs(struct tun *t, struct tun_addr *out, unsigned int cap)
{
	return t->ops->addrs ? t->ops->addrs(t, out, cap) : 0;
}

bool tun_local_source_ok(const struct tun *t)
{
	return t->local_source_ok;
}

int tun_orig_source(struct tun *t, const uint8_t *pkt, size_t len, uint8_t *out)
{
	return t->ops->orig_source ? t->ops->orig_source(t, pkt, len, out) : -ENOENT;
}

unsigned int tun_queues(const struct tun *t)
{
	return t->nqueues;
}

int tun_queue_fd(const struct tun *t, unsigned int q)
{
	return q < t->nqueues ? t->q[q].fd : -1;
}

const char *tun_name(const struct tun *t)
{
	return t->name;
}

int tun_ifindex(const struct tun *t)
{
	return t->ifindex;
}

int tun_mtu(struct tun *t)
{
	return t->ops->get_mtu(t);
}

int tun_set_mtu(struct tun *t, unsigned int mtu)
{
	return t->ops->set_mtu(t, mtu);
}

int tun_event_fd(const struct tun *t)
{
	return t->event_fd;
}

/* 8-byte atomics are only atomic on 8-byte aligned words (i386: fildq). */
_Static_assert(_Alignof(struct tun_counters) >= 8, "counters are 8-aligned");

/* A snapshot: each field is read once, atomically, while its worker may
 * still be adding to the others. */
#define LOAD(f) __atomic_load_n(&s->f, __ATOMIC_RELAXED)
static void add_counters(struct tun_counters *d, const struct tun_counters *s)
{
	int k;

	d->reads += LOAD(reads);
	d->read_packets += LOAD(read_packets);
	d->read_bytes += LOAD(read_bytes);
	d->malformed += LOAD(malformed);
	for (k = 0; k < TUN_GSO_KINDS; k++) {
		uint64_t m;

		d->gso[k].packets += LOAD(gso[k].packets);
		d->gso[k].segments += LOAD(gso[k].segments);
		m = LOAD(gso[k].max_gso_size);
		if (m > d->gso[k].max_gso_size)
			d->gso[k].max_gso_size = m;
		m = LOAD(gso[k].max_segments);
		if (m > d->gso[k].max_segments)
			d->gso[k].max_segments = m;
	}
	d->writes += LOAD(writes);
	d->write_packets += LOAD(write_packets);
	d->write_bytes += LOAD(write_bytes);
	for (k = 0; k < GRO_PROTOS; k++) {
		d->coalesced[k] += LOAD(coalesced[k]);
		d->merged[k] += LOAD(merged[k]);
	}
	d->bad_csum += LOAD(bad_csum);
	d->write_errors += LOAD(write_errors);
	d->rejected += LOAD(rejected);
	d->eagain += LOAD(eagain);
	d->read_errors += LOAD(read_errors);
}
#undef LOAD

void tun_get_counters(const struct tun *t, struct tun_counters *c)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < t->nqueues; i++)
		add_counters(c, &t->q[i].c);
}

void tun_close(struct tun *t)
{
	if (!t)
		return;
	t->ops->destroy(t);
}
