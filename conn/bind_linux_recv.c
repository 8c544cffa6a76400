/* SPDX-License-Identifier: MIT */
/*
 * The Linux bind's receive path: recvmmsg straight into the caller's
 * buffers, or, once UDP_GRO is on, into scratch slots whose coalesced
 * batches are cut back into datagrams, each with its source endpoint
 * (copied into the caller's slots, or lent where they lie).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "conn/bind_linux.h"
#include "conn/cmsg.h"
#include "conn/sticky.h"

static int do_recvmmsg(struct linux_bind *lb, int fd, struct mmsghdr *m, unsigned int n)
{
	if (lb->sc.recvmmsg)
		return lb->sc.recvmmsg(lb->sc.arg, fd, m, n, MSG_DONTWAIT);
	return recvmmsg(fd, m, n, MSG_DONTWAIT, NULL);
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
static int rx_error(struct linux_bind *lb, struct lsock *s, int err)
{
	struct vg_bind *b = &lb->b;

	if (err == EAGAIN || err == EWOULDBLOCK)
		return 0;
	if (sock_lost_err(err)) {
		vg_bind_linux_lost(lb, s == &lb->s[1], err);
		return -EBADF;
	}
	if (err == EFAULT || err == EINVAL)
		return -err;
	VG_STAT_ADD(b, rx_errors, 1);
	vg_bind_log_once(b, VG_LOG_RXERR, "receive error: %s (ignored)", strerror(err));
	return 0;
}

/* Hands out the current scratch message; returns slots filled. */
static unsigned int split_current(struct linux_bind *lb, struct lsock *s, struct vg_rx_pkt *pkts,
				  unsigned int n, bool lend)
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
	if (lend)
		got = vg_gro_lend(s->riov[s->ri].iov_base, m->msg_len, &s->roff, s->rgso,
				  &s->rep, pkts, n, &trunc);
	else
		got = vg_gro_split(s->riov[s->ri].iov_base, m->msg_len, &s->roff, s->rgso,
				   &s->rep, pkts, n, &trunc);
	if (trunc)
		VG_STAT_ADD(&lb->b, rx_truncated, trunc);
	if (s->roff >= m->msg_len) {
		s->ri++;
		s->roff = 0;
		s->rparsed = false;
	}
	return got;
}

/* A lent piece stays valid until the scratch is refilled, which happens only
 * in a later call: this one stops as soon as it has handed anything out. */
static int recv_gro(struct linux_bind *lb, struct lsock *s, struct vg_rx_pkt *pkts, unsigned int n,
		    bool lend)
{
	unsigned int filled = 0, k;
	int ret;

	for (;;) {
		while (s->ri < s->rcount && filled < n)
			filled += split_current(lb, s, pkts + filled, n - filled, lend);
		if (filled)
			break;
		for (k = 0; k < GRO_SLOTS; k++)
			prep_rx(&s->rmsg[k], &s->riov[k], &s->raddr[k], &s->rctl[k]);
		ret = do_recvmmsg(lb, sock_fd(s), s->rmsg, GRO_SLOTS);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return rx_error(lb, s, errno);
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
		ret = do_recvmmsg(lb, sock_fd(s), lb->dmsg, n);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return rx_error(lb, s, errno);
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

static int linux_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n,
		      bool lend)
{
	struct linux_bind *lb = to_lb(b);
	int i = fam_index(family);

	if (i < 0 || sock_fd(&lb->s[i]) < 0)
		return -EBADF;
	if (lb->s[i].gro_ever)
		return recv_gro(lb, &lb->s[i], pkts, n, lend);
	return recv_direct(lb, &lb->s[i], pkts, n);
}

int vg_bind_linux_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n)
{
	return linux_recv(b, family, pkts, n, false);
}

int vg_bind_linux_recv_lent(struct vg_bind *b, int family, struct vg_rx_pkt *pkts,
			    unsigned int n)
{
	return linux_recv(b, family, pkts, n, true);
}

bool vg_bind_linux_pending(const struct vg_bind *b, int family)
{
	int i = fam_index(family);

	return i >= 0 && to_lb(b)->s[i].ri < to_lb(b)->s[i].rcount;
}
