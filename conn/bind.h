/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_BIND_H
#define VGUARD_CONN_BIND_H

/*
 * The "outside" of vguard: batched UDP. A bind is one IPv4 + one IPv6
 * socket on the same port, owned by one queue worker. It knows UDP, not
 * WireGuard.
 *
 *   - vg_bind_open()        member `queue` of an SO_REUSEPORT group of
 *                           `queues` sockets pairs on one port (queues > 1
 *                           turns SO_REUSEPORT on; the kernel then keeps a
 *                           remote 4-tuple on one member). Either family may
 *                           be missing on the host: the bind carries on
 *                           with the other and logs it.
 *   - vg_bind_fd()          the fds to put in the worker's epoll (EPOLLIN).
 *   - vg_bind_recv()        a batch from one socket: recvmmsg + UDP_GRO
 *                           split, each datagram with its source endpoint
 *                           and the pktinfo (sticky source) it arrived with;
 *                           every GRO piece keeps its parent's.
 *   - vg_bind_send()        a batch of datagrams to one endpoint: as few
 *                           sendmmsg calls as possible, equal-size runs
 *                           packed under UDP_SEGMENT (zero copy: iovecs),
 *                           the sticky source on every message, and every
 *                           fallback (EIO, EINVAL, EMSGSIZE, stale source,
 *                           EAGAIN) handled inside without losing packets.
 *
 * Thread rules: one bind is used by one worker thread (recv/send). The
 * counters and offload state may be read from any thread. fwmark, rebind,
 * vg_bind_set_offload() and close must not run concurrently with recv/send
 * on the same bind (pause the worker, or let it do them).
 *
 * Errors are negative errno values. Two implementations share this
 * interface: the Linux sockets (bind_linux*.c) and an in-memory network for
 * tests of the layers above (vg_memnet, bind_mem.c).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "conn/endpoint.h"

/* recvmmsg/sendmmsg batch: at most this many datagrams per call. */
#define VG_BIND_BATCH		128
/* UDP_SEGMENT limits (kernel UDP_MAX_SEGMENTS and the IP length field). */
#define VG_UDP_GSO_MAX_SEGS	64
#define VG_UDP_GSO_MAX_BYTES_V4	(65535 - 20 - 8)
#define VG_UDP_GSO_MAX_BYTES_V6	(65535 - 8)
/* A receive buffer that can hold any datagram (and any GRO batch). */
#define VG_UDP_MAX_DATAGRAM	65535
/* Default SO_SNDBUF/SO_RCVBUF (the *FORCE variants are tried first). */
#define VG_BIND_SOCKBUF		(7 << 20)
/*
 * Default SO_RCVBUF.  What waits here waits for the worker, and a TCP flow
 * through the tunnel fills whatever it is given (its window is sized by
 * ACKs, not by this queue): a smaller one bounds the delay a bulk flow
 * adds to everything else to the same peer, at the price of the drops
 * that bound it.  The default keeps throughput; vguard --udp-rcvbuf
 * trades it for latency (README.md, "Latency under load").
 */
#define VG_BIND_RCVBUF		VG_BIND_SOCKBUF

struct vg_bind;

/* Log hook: called once per noteworthy event (family unavailable, an
 * offload falling back); msg has no trailing newline. */
typedef void (*vg_bind_log_fn)(void *arg, const char *msg);

struct vg_bind_config {
	uint16_t port;		/* 0: pick one free for both families */
	unsigned int queue;	/* this member's index, 0 .. queues-1 */
	unsigned int queues;	/* group size; 0 or 1: no SO_REUSEPORT */
	uint32_t fwmark;	/* SO_MARK; 0 = none */
	int sockbuf;		/* SO_SNDBUF bytes; 0 = VG_BIND_SOCKBUF */
	int rcvbuf;		/* SO_RCVBUF bytes; 0 = VG_BIND_RCVBUF */
	bool no_gso;		/* off switch: UDP_SEGMENT sends */
	bool no_gro;		/* off switch: UDP_GRO receives */
	bool no_ipv4;		/* do not open the IPv4 socket */
	bool no_ipv6;		/* do not open the IPv6 socket */
	vg_bind_log_fn log;	/* NULL: stderr */
	/* Faults (a send or receive refused, a socket lost); NULL: log. */
	vg_bind_log_fn log_fault;
	void *log_arg;
};

/* Opens a socket pair per cfg. For a group, open member 0 with the wanted
 * port (maybe 0), then members 1.. with vg_bind_port() of member 0 — or use
 * vg_bind_group_open(). -EADDRINUSE if the port is taken, -EAFNOSUPPORT if
 * neither family could be opened. */
int vg_bind_open(struct vg_bind **out, const struct vg_bind_config *cfg);

/* Opens cfg->queues Linux socket pairs (at least 1) on one port into
 * binds[]; all or nothing. (In-memory groups: vg_bind_open_mem() each
 * member with queues > 1 and member 0's port.) */
int vg_bind_group_open(struct vg_bind **binds, const struct vg_bind_config *cfg);

/* A bind over two bound sockets another process handed over (a live
 * upgrade, README.md): fd4/fd6 (-1: that family is not open) become the
 * bind's; the offloads follow cfg. On failure the caller keeps them. */
int vg_bind_adopt(struct vg_bind **out, const struct vg_bind_config *cfg, int fd4, int fd6);

/* Closes the sockets and frees the bind. NULL is fine. */
void vg_bind_close(struct vg_bind *b);
void vg_bind_group_close(struct vg_bind **binds, unsigned int n);

/* The fd of the family's socket (AF_INET or AF_INET6), or -1 if that family
 * is not open. Readable (EPOLLIN) when vg_bind_recv() has work. */
int vg_bind_fd(const struct vg_bind *b, int family);

/* The port actually bound (host byte order). */
uint16_t vg_bind_port(const struct vg_bind *b);

/* One received datagram. The caller says where the bytes go (data, leaving
 * any head room it wants in front) and how many fit (cap); the bind fills
 * len and ep (ep.dst = the sender, ep.src/src_ifindex = the local address and
 * interface it arrived on, has_src when the kernel said so). */
struct vg_rx_pkt {
	uint8_t *data;
	uint32_t cap;
	uint32_t len;
	struct vg_endpoint ep;
};

/* Receives up to n datagrams from the family's socket without blocking.
 * Returns how many were filled (0: nothing to read now) or a negative errno
 * (-EBADF: that family is not open / the bind is closed). Datagrams larger
 * than their slot's cap are dropped and counted (rx_truncated); give caps of
 * VG_UDP_MAX_DATAGRAM to never lose one. A GRO batch bigger than the slots
 * left is kept and handed out by the next call, so call it until it returns
 * 0 (vg_bind_pending() tells whether bytes are waiting without a syscall). */
int vg_bind_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n);
bool vg_bind_pending(const struct vg_bind *b, int family);
/* vg_bind_recv(), but a datagram the bind already holds in its own memory
 * (a piece of a GRO batch) may be lent instead of copied: pkts[i].data then
 * points there, read only and valid until the next receive on that family,
 * and the caller's slot is left as it was.  For a caller whose next pass
 * over the bytes writes them elsewhere anyway (decryption into its slot). */
int vg_bind_recv_lent(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n);

/* Sends n datagrams (pkts[i] is one datagram's bytes) to ep, in order.
 * Returns n when every datagram was handed to the kernel or deliberately
 * counted as undeliverable (ICMP errors: ECONNREFUSED, EHOSTUNREACH,
 * ENETUNREACH, EPERM...; see tx_unreachable), or a negative errno for a
 * failure of the bind itself (-EBADF: the socket was lost, see
 * vg_bind_check(); -EAFNOSUPPORT: family not open; -ETIMEDOUT: the socket
 * refused writes for a second without progress), after which what was
 * not sent is counted in tx_errors. If the kernel
 * rejects ep's sticky source (EINVAL), the send is retried once without it
 * and *result (when not NULL) gets VG_SEND_SRC_REFUSED: the caller clears
 * the source it keeps for that peer. */
enum { VG_SEND_SRC_REFUSED = 1 << 0 };
int vg_bind_send(struct vg_bind *b, const struct vg_endpoint *ep, const struct iovec *pkts,
		 unsigned int n, unsigned int *result);

/* Whether the sockets are still the ones opened: 0, or the negative errno
 * with which one was found closed or replaced underneath (-EBADF,
 * -ENOTSOCK, -ESTALE: another socket now has its number). A lost socket is
 * never used or closed again (its number may name someone else's file by
 * then), its sends and receives fail with -EBADF, and the caller opens a
 * new bind on the same port. probe also asks the kernel (a getsockname
 * per socket); without it only what send and receive met is reported.
 * Any thread. */
int vg_bind_check(struct vg_bind *b, bool probe);

/* SO_MARK on both sockets (0 clears), both or neither: on failure the
 * sockets keep the mark they had. Callers clear every peer's sticky
 * source after it: routing may change. */
int vg_bind_set_fwmark(struct vg_bind *b, uint32_t mark);
/* The mark the sockets carry (cfg->fwmark, then each successful set). */
uint32_t vg_bind_fwmark(const struct vg_bind *b);

/* Moves the bind to a new port (0: pick). New sockets are opened first; on
 * failure (-EADDRINUSE...) the old ones stay in use. On success the fds
 * change: re-register them with epoll. Callers clear sticky sources. */
int vg_bind_rebind(struct vg_bind *b, uint16_t port);
/* The same for a whole group, all or nothing. */
int vg_bind_group_rebind(struct vg_bind **binds, unsigned int n, uint16_t port);

/* Offloads, per family. */
enum {
	VG_BIND_GSO4 = 1 << 0,
	VG_BIND_GSO6 = 1 << 1,
	VG_BIND_GRO4 = 1 << 2,
	VG_BIND_GRO6 = 1 << 3,
};
#define VG_BIND_GSO (VG_BIND_GSO4 | VG_BIND_GSO6)
#define VG_BIND_GRO (VG_BIND_GRO4 | VG_BIND_GRO6)

/* The offloads in use right now (VG_BIND_* bits). */
unsigned int vg_bind_offloads(const struct vg_bind *b);
/* Why one offload bit is in the state it is. Callers decide on the value;
 * vg_bind_offload_reason_text() is for people only. */
enum vg_bind_offload_reason {
	VG_BIND_REASON_NO_SOCKET,	/* "off (no socket)": that family is not open */
	VG_BIND_REASON_ON,		/* "on" */
	VG_BIND_REASON_SWITCH,		/* "off (switch)" */
	VG_BIND_REASON_KERNEL,		/* "off (kernel)": not supported */
	VG_BIND_REASON_EIO,		/* "off (EIO)": the egress device refused GSO */
	VG_BIND_REASON_NO_MEMORY,	/* "off (no memory)": no GRO receive buffers */
	VG_BIND_REASON_UNKNOWN,		/* "unknown": not a single VG_BIND_* bit */
	VG_BIND_REASON_COUNT
};
enum vg_bind_offload_reason vg_bind_offload_state(const struct vg_bind *b, unsigned int bit);
/* The text of a reason (the strings above). Static string. */
const char *vg_bind_offload_reason_text(enum vg_bind_offload_reason r);
/* Run-time switch: on=false turns the offloads in mask off; on=true turns
 * them back on where the kernel supports them (GRO is re-probed). */
int vg_bind_set_offload(struct vg_bind *b, unsigned int mask, bool on);

/* Counters; each field only grows. Sum over the group for device totals. */
struct vg_bind_stats {
	uint64_t rx_packets, rx_bytes;	/* datagrams handed out (after GRO split) */
	uint64_t rx_syscalls;		/* recvmmsg calls that returned data */
	uint64_t rx_gro_batches;	/* coalesced receives (more than one datagram) */
	uint64_t rx_gro_datagrams;	/* datagrams that came in those batches */
	uint64_t rx_truncated;		/* dropped: bigger than the slot */
	uint64_t rx_errors;		/* other receive errors (ignored) */
	uint64_t tx_packets, tx_bytes;	/* datagrams the kernel accepted */
	uint64_t tx_syscalls;		/* sendmmsg calls */
	uint64_t tx_gso_msgs;		/* messages carrying UDP_SEGMENT */
	uint64_t tx_gso_datagrams;	/* datagrams inside those */
	uint64_t tx_eagain;		/* waits for writability */
	uint64_t tx_unreachable;	/* datagrams dropped on ICMP-type errors */
	uint64_t tx_errors;		/* datagrams dropped on other errors */
	uint64_t tx_gso_eio;		/* EIO: GSO turned off for the family */
	uint64_t tx_gso_einval;		/* EINVAL with GSO: batch resent without */
	uint64_t tx_gso_emsgsize;	/* EMSGSIZE with GSO: batch resent without */
	uint64_t tx_sticky_einval;	/* EINVAL with a sticky source: cleared, retried */
} __attribute__((aligned(8)));	/* updated with __atomic: i386 aligns uint64_t to 4 */
void vg_bind_get_stats(const struct vg_bind *b, struct vg_bind_stats *out);
/* out += b's counters */
void vg_bind_add_stats(const struct vg_bind *b, struct vg_bind_stats *out);

/*
 * In-memory network for tests of the layers above: binds opened on one
 * vg_memnet reach each other by port (the address is kept as given, so
 * 127.0.0.1 / ::1 work naturally). Each family has an eventfd that is
 * readable while datagrams are queued, so epoll loops work unchanged.
 * Queues are bounded (VG_MEMNET_QUEUE); overflow drops are counted in the
 * receiver's rx_errors. Equal-size runs sent together are delivered as one
 * GRO batch when the receiver has GRO on, as the kernel would.
 */
#define VG_MEMNET_QUEUE 4096
struct vg_memnet;
struct vg_memnet *vg_memnet_new(void);
void vg_memnet_free(struct vg_memnet *net);	/* after every bind on it is closed */
int vg_bind_open_mem(struct vg_bind **out, struct vg_memnet *net, const struct vg_bind_config *cfg);
/* Test seam: every SO_MARK a bind on net takes (vg_bind_set_fwmark(), or an
 * open with cfg->fwmark set, as the Linux bind does) asks hook first, with
 * the bind's group member index; a negative errno refuses it. NULL: all
 * succeed. */
typedef int (*vg_memnet_mark_fn)(void *arg, unsigned int queue, uint32_t mark);
void vg_memnet_set_mark_hook(struct vg_memnet *net, vg_memnet_mark_fn hook, void *arg);
/* What the binds open on net look like, for tests: fills up to cap
 * entries and returns how many binds are open. */
struct vg_memnet_info {
	uint16_t port;
	unsigned int queue;
	uint32_t fwmark;
};
unsigned int vg_memnet_list(struct vg_memnet *net, struct vg_memnet_info *out, unsigned int cap);

/*
 * Test seam: replace the syscalls of a Linux bind (fault injection). Each
 * hook behaves like the libc call (return -1 and set errno on failure).
 * NULL members keep the real call.
 */
struct vg_bind_syscalls {
	int (*sendmmsg)(void *arg, int fd, struct mmsghdr *msgs, unsigned int n, int flags);
	int (*recvmmsg)(void *arg, int fd, struct mmsghdr *msgs, unsigned int n, int flags);
	/* SO_MARK only (vg_bind_set_fwmark, and the sockets a rebind opens). */
	int (*setsockopt)(void *arg, int fd, int level, int opt, const void *val, socklen_t len);
	void *arg;
};
void vg_bind_set_syscalls(struct vg_bind *b, const struct vg_bind_syscalls *sc);

#endif
