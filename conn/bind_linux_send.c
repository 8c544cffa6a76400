/* SPDX-License-Identifier: MIT */
/*
 * The Linux bind's send path: a batch to one endpoint as few sendmmsg
 * calls as possible, equal-size runs under UDP_SEGMENT, the sticky source
 * on every message, and the fallbacks (EIO, EINVAL, EMSGSIZE, a stale
 * source, EAGAIN) that keep datagrams flowing when one is refused.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "conn/bind_linux.h"
#include "conn/cmsg.h"
#include "conn/sticky.h"

#define WRITABLE_WAIT_MS 1000

static int do_sendmmsg(struct linux_bind *lb, int fd, struct mmsghdr *m, unsigned int n)
{
	if (lb->sc.sendmmsg)
		return lb->sc.sendmmsg(lb->sc.arg, fd, m, n, MSG_DONTWAIT);
	return sendmmsg(fd, m, n, MSG_DONTWAIT);
}

struct tx {
	struct linux_bind *lb;
	struct lsock *s;
	int idx;
	struct vg_endpoint ep;	/* the caller's, until its source is refused */
	unsigned int *result;
	const struct iovec *pkts;
	unsigned int n;
	unsigned int done;	/* datagrams finished (sent or counted) */
	bool no_gso;		/* this batch goes without UDP_SEGMENT */
	bool sticky_retried;
	bool nobufs_retried;	/* ENOBUFS: one retry per batch after a pause */
	bool refused_writable;	/* EAGAIN although poll said writable */
	uint64_t wait_until;	/* ms: EAGAIN since then gives up here; 0: none */
};

static unsigned int build(struct tx *t)
{
	struct linux_bind *lb = t->lb;
	bool gso = !t->no_gso && (vg_bind_offloads(&lb->b) & gso_bit(t->idx));
	size_t max_bytes = t->idx ? VG_UDP_GSO_MAX_BYTES_V6 : VG_UDP_GSO_MAX_BYTES_V4;
	socklen_t namelen = vg_endpoint_dst_len(&t->ep);
	unsigned int nm, consumed, k;
	size_t sticky;

	nm = vg_gso_plan(t->pkts + t->done, t->n - t->done, gso ? VG_UDP_GSO_MAX_SEGS : 1,
			 max_bytes, t->s->gso_max_seg, lb->plan, VG_BIND_BATCH, &consumed);
	/* One endpoint per batch: its PKTINFO is built once, then copied. */
	sticky = vg_sticky_build(&t->ep, lb->tctl[0].buf, sizeof(lb->tctl[0].buf));
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
			.msg_name = &t->ep.dst,
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Back-pressure: waits until the socket is writable, for at most
 * WRITABLE_WAIT_MS without progress in all.  A socket that polls writable
 * yet still refuses is short of something poll cannot see: pausing a
 * millisecond each time keeps that from spinning a core.
 */
static int wait_writable(struct tx *t)
{
	struct pollfd pfd = { .fd = sock_fd(t->s), .events = POLLOUT };
	uint64_t now = now_ms();
	int ret;

	VG_STAT_ADD(&t->lb->b, tx_eagain, 1);
	if (!t->wait_until)
		t->wait_until = now + WRITABLE_WAIT_MS;
	if (now >= t->wait_until)
		return -ETIMEDOUT;
	if (t->refused_writable)
		poll(NULL, 0, 1);
	do {
		ret = poll(&pfd, 1, (int)(t->wait_until - now));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	t->refused_writable = ret > 0;
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
	if (err == ENOBUFS && !t->nobufs_retried) {
		/* Memory or a device queue short for a moment: retry once. */
		t->nobufs_retried = true;
		poll(NULL, 0, 1);
		return TX_RETRY;
	}
	if (err == EIO && p->gso_size) {
		/* The egress device cannot checksum segments: GSO off for the family. */
		lb->eio_off |= gso_bit(t->idx);
		vg_bind_linux_gso_state(lb, t->idx);
		VG_STAT_ADD(b, tx_gso_eio, 1);
		vg_bind_log_once(b, VG_LOG_GSO_EIO, "%s UDP GSO refused (EIO): turned off",
				 fam_name(t->idx));
		t->no_gso = true;
		return TX_REBUILD;
	}
	if ((err == EINVAL || err == EMSGSIZE) && p->gso_size) {
		/* The path refuses this segment size (MTU, or an old kernel's
		 * limits); remember it unless a stale source may be the cause. */
		if (err == EMSGSIZE || !t->ep.has_src)
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
	if (stale_source(err) && t->ep.has_src && !t->sticky_retried) {
		char src[VG_ENDPOINT_STRLEN];

		vg_endpoint_format(&t->ep, src, sizeof(src));
		vg_endpoint_clear_src(&t->ep);
		*t->result |= VG_SEND_SRC_REFUSED;
		t->sticky_retried = true;
		VG_STAT_ADD(b, tx_sticky_einval, 1);
		vg_bind_log_once(b, VG_LOG_STICKY,
				 "sticky source for %s refused (%s): cleared, retrying without",
				 src, strerror(err));
		return TX_REBUILD;
	}
	if (sock_lost_err(err)) {
		vg_bind_linux_lost(lb, t->idx, err);
		return -EBADF;
	}
	if (err == EFAULT)
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

/* The bind itself failed: what was not sent is dropped, and counted here
 * whatever the caller does with the error. */
static int give_up(struct tx *t, int err)
{
	struct vg_bind *b = &t->lb->b;

	VG_STAT_ADD(b, tx_errors, t->n - t->done);
	if (err == -ETIMEDOUT)
		vg_bind_log_once(b, VG_LOG_TXSTALL, "send: socket refused writes for %d ms: "
				 "datagrams dropped and counted", WRITABLE_WAIT_MS);
	else if (err != -EBADF)
		vg_bind_log_once(b, VG_LOG_TXERR, "send: %s (datagrams dropped and counted)",
				 strerror(-err));
	return err;
}

/* Sends what build() planned; returns 0 when done, TX_REBUILD, or -errno. */
static int send_planned(struct tx *t, unsigned int nm)
{
	unsigned int k = 0, base = t->done;
	int ret;

	while (k < nm) {
		ret = do_sendmmsg(t->lb, sock_fd(t->s), t->lb->tmsg + k, nm - k);
		VG_STAT_ADD(&t->lb->b, tx_syscalls, 1);
		if (ret > 0) {
			t->wait_until = 0;
			t->refused_writable = false;
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

int vg_bind_linux_send(struct vg_bind *b, const struct vg_endpoint *ep, const struct iovec *pkts,
		       unsigned int n, unsigned int *result)
{
	struct linux_bind *lb = to_lb(b);
	struct tx t = { .lb = lb, .ep = *ep, .pkts = pkts, .n = n, .result = result };
	int ret;

	t.idx = fam_index(vg_endpoint_family(ep));
	if (t.idx < 0)
		return -EAFNOSUPPORT;
	t.s = &lb->s[t.idx];
	if (sock_fd(t.s) < 0) {
		if (!__atomic_load_n(&b->lost, __ATOMIC_RELAXED))
			return -EAFNOSUPPORT;
		/* Lost underneath: dropped until the bind is reopened. */
		VG_STAT_ADD(b, tx_errors, n);
		return -EBADF;
	}
	while (t.done < n) {
		ret = send_planned(&t, build(&t));
		if (ret < 0)
			return give_up(&t, ret);
	}
	return (int)n;
}
