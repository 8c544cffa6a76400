/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_BIND_LINUX_H
#define VGUARD_CONN_BIND_LINUX_H

/*
 * Private to the Linux bind: what its socket setup (bind_linux.c), receive
 * path (bind_linux_recv.c) and send path (bind_linux_send.c) share.
 */

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn/batch.h"
#include "conn/bind_impl.h"

/* recvmmsg slots of 64 KiB for GRO batches; each can hold up to 64 datagrams,
 * so 8 of them fill a 128-packet batch many times over. */
#define GRO_SLOTS 8
/* Room for PKTINFO + UDP_GRO and anything unexpected the kernel adds. */
#define CTL_RX 128
/* PKTINFO (v6 is the larger) + UDP_SEGMENT. */
#define CTL_TX (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)))

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

static inline struct linux_bind *to_lb(const struct vg_bind *b)
{
	return (struct linux_bind *)b;
}

static inline int fam_index(int family)
{
	if (family == AF_INET)
		return 0;
	if (family == AF_INET6)
		return 1;
	return -1;
}

/* The fd is read by the worker and may be dropped by vg_bind_check() from
 * another thread when the socket is found lost. */
static inline int sock_fd(const struct lsock *s)
{
	return __atomic_load_n(&s->fd, __ATOMIC_RELAXED);
}

static inline bool sock_lost_err(int err)
{
	return err == EBADF || err == ENOTSOCK;
}

static inline unsigned int gso_bit(int idx)
{
	return idx ? VG_BIND_GSO6 : VG_BIND_GSO4;
}

static inline unsigned int gro_bit(int idx)
{
	return idx ? VG_BIND_GRO6 : VG_BIND_GRO4;
}

static inline const char *fam_name(int idx)
{
	return idx ? "IPv6" : "IPv4";
}

/* Sets family idx's GSO state from its socket, the switches and EIO. */
void vg_bind_linux_gso_state(struct linux_bind *lb, int idx);

/* Family idx's socket was closed or replaced underneath (err): forgets
 * its fd without closing it, logs once. Worker only. */
void vg_bind_linux_lost(struct linux_bind *lb, int idx, int err);

int vg_bind_linux_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n);
int vg_bind_linux_recv_lent(struct vg_bind *b, int family, struct vg_rx_pkt *pkts,
			    unsigned int n);
bool vg_bind_linux_pending(const struct vg_bind *b, int family);
int vg_bind_linux_send(struct vg_bind *b, const struct vg_endpoint *ep, const struct iovec *pkts,
		       unsigned int n, unsigned int *result);

#endif
