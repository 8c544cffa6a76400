/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_TUN_H
#define VGUARD_TUN_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tun/offload.h"

/*
 * The "inside" of the tunnel: a TUN device with one or more queues.
 *
 * Each queue is owned by one worker thread; tun_read() and tun_write() on
 * queue q must only be called by that worker.  Everything else (MTU, events,
 * counters, offload state) belongs to the control thread.
 *
 * Buffers: every buffer handed to tun_read() or tun_write() is
 * headroom + TUN_MAX_PACKET bytes long; the IP packet lives at
 * buf + headroom.  Writes need headroom >= TUN_MIN_HEADROOM, because the
 * virtio header is encoded in front of the packet, and may grow the first
 * packet of a flow in place up to TUN_MAX_PACKET bytes (GRO).
 *
 * Errors are negative errno values.  -EBADFD from tun_read()/tun_write()
 * means the interface was deleted: treat it as a clean close (the event
 * channel reports TUN_EVENT_CLOSED as well).
 */

#define TUN_DEFAULT_MTU 1420
#define TUN_MAX_QUEUES 256	/* the kernel's MAX_TAP_QUEUES */
#define TUN_MAX_BATCH 128	/* packets per read or write batch */
#define TUN_MAX_PACKET 65535	/* bytes after the head room */
#define TUN_MIN_HEADROOM 10	/* VNET_HDR_LEN */

/* Debian 12's linux/if_tun.h predates USO (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/*
 * Offload switches, filled by the daemon from its command line and the
 * environment.  All false means "everything the kernel supports".
 */
struct tun_options {
	unsigned int queues;	/* 0 means 1; at most TUN_MAX_QUEUES */
	unsigned int mtu;	/* set at creation; 0 means TUN_DEFAULT_MTU */
	bool keep_mtu;		/* attaching to an existing device: don't set it */
	bool no_vnet_hdr;	/* open without IFF_VNET_HDR: no offloads at all */
	bool no_tso;		/* don't ask for TUN_F_TSO4/6 */
	bool no_uso;		/* don't ask for TUN_F_USO4/6 */
	bool no_tcp_gro;	/* never write coalesced TCP */
	bool no_udp_gro;	/* never write coalesced UDP */
	bool no_gro_probe;	/* skip the start-up coalesced-write probe */
	/* One-line notices (an offload turned off, and why); NULL: stderr. */
	void (*log)(void *ctx, const char *msg);
	/* Faults (a read or write refused, logged once each); NULL: log. */
	void (*log_fault)(void *ctx, const char *msg);
	void *log_ctx;
};

/* Defaults: 1 queue, MTU 1420, every offload allowed. */
void tun_options_init(struct tun_options *o);

/*
 * Applies the environment: VGUARD_NO_OFFLOAD (no vnet header), VGUARD_NO_TSO,
 * VGUARD_NO_USO, VGUARD_NO_TCP_GRO, VGUARD_NO_UDP_GRO, VGUARD_NO_GRO_PROBE.
 * A variable counts when set to anything but "", "0", "no" or "false".
 */
void tun_options_from_env(struct tun_options *o);

/* The rule above, for one variable: the device's switches follow it too. */
bool tun_env_true(const char *name);

/*
 * The offload switches every program driving a TUN offers, as getopt_long()
 * entries: --no-offload, --no-tso, --no-uso, --no-tcp-gro, --no-udp-gro.
 * Put TUN_OPTION_LONGOPTS in the option table (it needs <getopt.h>) and hand
 * each getopt_long() result to tun_options_getopt(), which returns false for
 * values that are not TUN_OPT_* (the caller's own options).  The values sit
 * above any character so they never clash with short options.
 */
enum tun_opt {
	TUN_OPT_NO_OFFLOAD = 0x100,
	TUN_OPT_NO_TSO,
	TUN_OPT_NO_USO,
	TUN_OPT_NO_TCP_GRO,
	TUN_OPT_NO_UDP_GRO,
};

#define TUN_OPTION_LONGOPTS \
	{ "no-offload", no_argument, NULL, TUN_OPT_NO_OFFLOAD }, \
	{ "no-tso", no_argument, NULL, TUN_OPT_NO_TSO }, \
	{ "no-uso", no_argument, NULL, TUN_OPT_NO_USO }, \
	{ "no-tcp-gro", no_argument, NULL, TUN_OPT_NO_TCP_GRO }, \
	{ "no-udp-gro", no_argument, NULL, TUN_OPT_NO_UDP_GRO }

bool tun_options_getopt(struct tun_options *o, int opt);

/* What the device is really doing, and why. */
enum tun_feature {
	TUN_FEAT_TSO,		/* TCP super-packets on read (TSO4/TSO6) */
	TUN_FEAT_USO,		/* UDP super-packets on read (USO4/USO6) */
	TUN_FEAT_TCP_GRO,	/* coalesced TCP writes */
	TUN_FEAT_UDP_GRO,	/* coalesced UDP writes (needs USO) */
	TUN_FEAT_COUNT
};

/*
 * Why a feature is in the state it is.  Callers decide on the value;
 * tun_offload_reason_text() is for people (logs, offload-check) only.
 * Zero is "not set up", so a zeroed tun_offload_state reads as such.
 */
enum tun_offload_reason {
	TUN_REASON_NOT_SET_UP,
	TUN_REASON_ACCEPTED,		/* on: the kernel took the flags */
	TUN_REASON_ON,			/* on: coalesced writes need no flag */
	TUN_REASON_BY_OPTION,		/* this feature switched off */
	TUN_REASON_VNET_HDR_BY_OPTION,	/* opened without a vnet header on request */
	TUN_REASON_OFFLOADS_BY_OPTION,	/* a passed fd has one, but offloads are off */
	TUN_REASON_NO_VNET_HDR,		/* a passed fd without a vnet header */
	TUN_REASON_KERNEL_REFUSED,	/* TUNSETOFFLOAD refused TSO */
	TUN_REASON_KERNEL_NO_USO,	/* TUNSETOFFLOAD refused USO */
	TUN_REASON_NO_CSUM,		/* checksum offload refused: no TCP GRO */
	TUN_REASON_GRO_NO_USO,		/* the kernel has no USO: no UDP GRO */
	TUN_REASON_PROBE_TCP,		/* start-up probe refused coalesced TCP */
	TUN_REASON_PROBE_UDP,		/* start-up probe refused coalesced UDP */
	TUN_REASON_WRITE_EINVAL,	/* a coalesced write failed with EINVAL */
	TUN_REASON_COUNT
};

struct tun_offload_state {
	bool vnet_hdr;		/* queues carry a virtio header */
	unsigned int requested;	/* TUN_F_* flags asked for */
	unsigned int accepted;	/* TUN_F_* flags the kernel took */
	bool on[TUN_FEAT_COUNT];
	enum tun_offload_reason reason[TUN_FEAT_COUNT];
};

/* Super-packets seen on read, by kind. */
enum tun_gso_kind {
	TUN_GSO_TCP4,
	TUN_GSO_TCP6,
	TUN_GSO_UDP4,
	TUN_GSO_UDP6,
	TUN_GSO_KINDS
};

struct tun_gso_counters {
	uint64_t packets;	/* super-packets read */
	uint64_t segments;	/* segments they were split into */
	uint64_t max_gso_size;
	uint64_t max_segments;	/* most segments from one read */
};

/* Monotonic counters, summed over all queues. */
struct tun_counters {
	uint64_t reads;		/* read() calls that returned data */
	uint64_t read_packets;	/* plain packets handed to the caller */
	uint64_t read_bytes;	/* bytes of those packets */
	uint64_t malformed;	/* reads dropped: bad header, too many segments */
	struct tun_gso_counters gso[TUN_GSO_KINDS];
	uint64_t writes;	/* write() calls that succeeded */
	uint64_t write_packets;	/* plain packets the caller asked to write */
	uint64_t write_bytes;
	uint64_t coalesced[GRO_PROTOS];	/* writes that carried merged segments */
	uint64_t merged[GRO_PROTOS];	/* segments folded into another packet */
	uint64_t bad_csum;	/* GRO candidates refused for a bad checksum */
	uint64_t write_errors;	/* packets the kernel refused (counted, not retried) */
	uint64_t rejected;	/* coalesced writes refused with EINVAL, resent split */
	uint64_t eagain;	/* writes that had to wait for writability */
	uint64_t read_errors;	/* reads that failed (not EAGAIN) */
} __attribute__((aligned(8)));	/* updated with __atomic: i386 aligns uint64_t to 4 */

enum tun_event_type {
	TUN_EVENT_NONE,
	TUN_EVENT_UP,
	TUN_EVENT_DOWN,		/* never before the first UP */
	TUN_EVENT_MTU,		/* mtu holds the new value */
	TUN_EVENT_CLOSED,	/* interface deleted; no more events */
	TUN_EVENT_ADDR,		/* an address of the host came or went: tun_addrs() */
};

struct tun_event {
	enum tun_event_type type;
	unsigned int mtu;
};

struct tun;

/*
 * Creates (or attaches to) the interface `name` with opts->queues queues:
 * IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, plus IFF_VNET_HDR unless disabled;
 * each fd O_CLOEXEC and non-blocking.  `name` may contain "%d".
 */
int tun_open(struct tun **out, const char *name, const struct tun_options *opts);

/*
 * Wraps a TUN fd opened by someone else (WG_TUN_FD); takes ownership of fd.
 * Offloads are used only if the fd was opened with IFF_VNET_HDR; more queues
 * are attached by name only if it has IFF_MULTI_QUEUE.
 */
int tun_open_fd(struct tun **out, int fd, const struct tun_options *opts);
/* Every queue of a running interface, as a live upgrade hands them over
 * (README.md, "Live upgrade"): n attached queue fds, the MTU kept.  On
 * failure the caller keeps its fds. */
int tun_open_fds(struct tun **out, const int *fds, unsigned int n, const struct tun_options *opts);

/*
 * One read from queue q, split into plain IP packets: packet i at
 * bufs[i] + headroom, sizes[i] bytes; nbufs should be TUN_MAX_BATCH.
 * Returns the number of packets (0 when a malformed read was dropped and
 * counted), -EAGAIN when the queue is empty, or another negative errno.
 */
int tun_read(struct tun *t, unsigned int q, uint8_t *const *bufs,
	     size_t *sizes, size_t nbufs, size_t headroom);

/*
 * Writes n (<= TUN_MAX_BATCH) plain IP packets to queue q: packet i at
 * bufs[i] + headroom, lens[i] bytes.  Packets are coalesced (GRO) where
 * allowed, then written one write() per resulting packet, so the buffers
 * and lens[] are modified.  EAGAIN waits for writability.  Returns n when
 * everything was written, else the first negative errno (the rest of the
 * batch is still attempted; refused packets are counted).
 */
int tun_write(struct tun *t, unsigned int q, uint8_t *const *bufs,
	      size_t *lens, size_t n, size_t headroom);

unsigned int tun_queues(const struct tun *t);
int tun_queue_fd(const struct tun *t, unsigned int q);	/* for epoll */
const char *tun_name(const struct tun *t);
/* In the network namespace the interface is in now, which may not be the
 * caller's (README.md, "Network namespaces"). */
int tun_ifindex(const struct tun *t);
int tun_mtu(struct tun *t);	/* the MTU or a negative errno */
/* -EXDEV while the interface is in another network namespace. */
int tun_set_mtu(struct tun *t, unsigned int mtu);

/*
 * Link events: tun_event_fd() becomes readable when events may be pending;
 * call tun_event_read() until it returns 0.  Returns 1 with *ev filled,
 * 0 when nothing is pending, or a negative errno.  The interface is
 * followed into any network namespace it is moved to; moving it takes it
 * down, which is an event like any other.
 */
int tun_event_fd(const struct tun *t);
int tun_event_read(struct tun *t, struct tun_event *ev);

/* Any thread, while the workers run: each field is read atomically (a
 * snapshot per field, not of the whole set; every field only grows). */
void tun_get_counters(const struct tun *t, struct tun_counters *c);
void tun_get_offload(const struct tun *t, struct tun_offload_state *s);
const char *tun_feature_name(enum tun_feature f);	/* "tso", "uso", ... */
/* "accepted by the kernel", "off by option", ...: a static string. */
const char *tun_offload_reason_text(enum tun_offload_reason r);
const char *tun_gso_kind_name(enum tun_gso_kind k);	/* "tcp4", ... */

/*
 * The host around the interface, for the ICMP errors written into it
 * (tun_addrs.c): they are sourced from one of the host's own addresses, as
 * the kernel sources the errors it sends, and the interface accepts such a
 * source arriving on it (IPv4 accept_local, set at open; IPv6 needs
 * nothing).
 */
struct tun_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefixlen;
	uint8_t scope;		/* RT_SCOPE_*: 0 universe, 253 link, 254 host */
	bool on_tun;		/* on this interface (listed first) */
};
/* The host's addresses, this interface's first: fills up to cap and
 * returns how many there are, or a negative errno.  Any thread. */
int tun_addrs(struct tun *t, struct tun_addr *out, unsigned int cap);
/* False when the interface would drop an IPv4 packet from a local source
 * (accept_local could not be set). */
bool tun_local_source_ok(const struct tun *t);
/* The source pkt, an IP packet read from the interface, had before the
 * host's source NAT rewrote it (conntrack), into out (4 or 16 bytes):
 * 0, or -ENOENT when it was not source-NATed (or nothing knows).  Any
 * thread; a few system calls, so for rare packets only. */
int tun_orig_source(struct tun *t, const uint8_t *pkt, size_t len, uint8_t *out);

/* Closes every queue and the event channel; NULL is a no-op. */
void tun_close(struct tun *t);

/*
 * The in-memory TUN, for tests of the layers above; no root needed.  It
 * behaves like the kernel's: each queue is a SOCK_SEQPACKET pair, so queue
 * fds work with epoll; the "kernel side" injects frames (with a virtio
 * header when vnet_hdr is on, so it can hand out super-packets) and takes
 * the frames written (coalesced ones included, header first).
 */
struct tun_mem_options {
	struct tun_options tun;	/* queues, mtu, the offload switches */
	bool tso;		/* pretend the kernel accepts TSO4/6 */
	bool uso;		/* pretend the kernel accepts USO4/6 */
	bool reject_gso;	/* refuse coalesced writes with EINVAL (buggy kernel) */
};

int tun_mem_open(struct tun **out, const char *name,
		 const struct tun_mem_options *opts);
/* Kernel side of queue q: send a frame to the reader.  Returns 0 or -errno. */
int tun_mem_inject(struct tun *t, unsigned int q, const void *frame, size_t len);
/* Kernel side of queue q: take one written frame; returns its length,
 * -EAGAIN when there is none, or another negative errno. */
ssize_t tun_mem_take(struct tun *t, unsigned int q, void *buf, size_t cap);
int tun_mem_peer_fd(const struct tun *t, unsigned int q);
/* Queues a link event as the kernel would raise it (same up/down rules). */
int tun_mem_push_event(struct tun *t, const struct tun_event *ev);
/* Deletes the interface underneath: reads and writes fail with -EBADFD,
 * then TUN_EVENT_CLOSED. */
int tun_mem_delete(struct tun *t);
/* The host's addresses tun_addrs() reports (copied; on_tun ones first), and
 * a TUN_EVENT_ADDR as rtnetlink would raise it. */
int tun_mem_set_addrs(struct tun *t, const struct tun_addr *a, unsigned int n);
/* Source NAT as conntrack would report it: packets from `from` (family
 * fam) had the source `to` before (tun_orig_source); fam 0 forgets it. */
int tun_mem_set_snat(struct tun *t, int fam, const uint8_t *from, const uint8_t *to);

#endif
