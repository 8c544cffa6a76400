/* SPDX-License-Identifier: MIT */
/* Internal to the data plane (device/libwgdevice.a): not part of device.h's
 * surface.  doc/architecture.md describes the threads and who owns what. */
#ifndef VGUARD_DEVICE_DEVICE_IMPL_H
#define VGUARD_DEVICE_DEVICE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn/bind.h"
#include "device/allowedips.h"
#include "device/device.h"
#include "device/peer.h"
#include "device/uapi.h"
#include "tun/tun.h"

/* Counters: the per-peer set, then the device-only set (uapi.h's names). */
enum {
#define X(n) PC_##n,
	UAPI_PEER_COUNTERS(X)
#undef X
	PC_MAX
};
enum {
#define X(n) DC_##n,
	UAPI_DEVICE_COUNTERS(X)
#undef X
	DC_MAX
};

/* A peer's counter slots: one per worker (its id), then the handshake
 * thread's; the control thread counts nothing per peer. */
#define DEV_SLOTS(d) ((d)->nworkers + 1)
#define SLOT_HANDSHAKE(d) ((d)->nworkers)

struct pcounters {
	uint64_t v[PC_MAX];
} __attribute__((aligned(64)));

struct dcounters {
	uint64_t p[PC_MAX];
	uint64_t d[DC_MAX];
} __attribute__((aligned(64)));

/* Relaxed single-writer counters: each slot is written by one thread. */
static inline void cnt_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

struct dev_peer {
	struct wg_peer *wp;
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
	uint64_t sync_gen;	/* the last set that found it in the store */
	uint64_t loop_at;	/* when its own outer datagram last came back */
	unsigned int nslots;	/* DEV_SLOTS() of its device */
	struct pcounters cnt[];
};

/* The allowed-IPs table (device/allowedips.h) is rebuilt by every set and
 * swapped under the configuration lock; readers hold it for a batch. */
static inline struct dev_peer *route_lookup(const struct allowedips *rt, int family,
					    const uint8_t *addr)
{
	return rt ? allowedips_lookup(rt, family, addr) : NULL;
}

/* Work handed to a worker by the handshake and control threads: every send
 * happens on a worker, the only thread that may use its bind. */
enum mbox_kind {
	MBOX_RAW,		/* send msg to ep */
	MBOX_KEEPALIVE,		/* encrypt and send an empty packet to peer */
	MBOX_STAGED,		/* send peer's staged packets */
	MBOX_STAGED_KEEPALIVE,	/* staged packets, or a keepalive if none */
};

struct mbox_item {
	enum mbox_kind kind;
	struct dev_peer *peer;	/* NULL for a raw reply without a peer */
	struct vg_endpoint ep;
	uint16_t len;
	uint8_t msg[MESSAGE_INITIATION_LEN];
};

#define MBOX_CAP 1024

struct worker {
	struct device *dev;
	unsigned int id;
	pthread_t thread;
	bool started;
	int epfd;
	int mbox_fd;		/* eventfd */
	pthread_mutex_t mbox_lock;
	struct mbox_item *mbox;
	unsigned int mbox_head, mbox_count;
	atomic_uint_fast64_t mbox_dropped;	/* pushes refused: mailbox full */
	unsigned int bind_gen;	/* the generation registered in epfd */
	int reg_fd[2];		/* bind fds registered in epfd */
	unsigned int udp_pending;	/* 1 IPv4, 2 IPv6: datagrams left in scratch */

	/* TUN → UDP */
	uint8_t *tx_mem;
	uint8_t *tx_bufs[TUN_MAX_BATCH];
	size_t tx_sizes[TUN_MAX_BATCH];
	struct dev_peer *tx_peer[TUN_MAX_BATCH];
	struct iovec tx_iov[TUN_MAX_BATCH];

	/* UDP → TUN */
	uint8_t *rx_mem;
	uint8_t *rx_bufs[VG_BIND_BATCH];
	struct vg_rx_pkt rx_pkts[VG_BIND_BATCH];
	uint8_t *w_bufs[TUN_MAX_BATCH];
	size_t w_lens[TUN_MAX_BATCH];
	unsigned int w_n;
	int rx_last_fam;	/* source-check cache, valid within one batch */
	uint8_t rx_last_src[16];
	struct dev_peer *rx_last_peer;

	uint8_t *small_buf;	/* one slot for a packet built here: ICMP, keepalive */
	uint64_t icmp_tokens_at;
	unsigned int icmp_tokens;

	bool flushing;		/* sending staged packets: don't re-stage */
	/* A run with our own outer datagrams taken out (send.c) */
	uint8_t *keep_bufs[TUN_MAX_BATCH];
	size_t keep_lens[TUN_MAX_BATCH];
	struct dcounters cnt;
};

/* Handshake messages queued for the handshake thread. */
struct hs_item {
	struct vg_endpoint src;
	unsigned int worker;
	uint16_t len;
	uint8_t msg[MESSAGE_INITIATION_LEN];
};

#define HS_QUEUE_CAP MAX_QUEUED_INCOMING_HANDSHAKES

struct device {
	struct device_options opts;
	struct tun *tun;
	unsigned int nworkers;
	struct worker *workers;	/* nworkers of them */

	/* Readers: workers per batch, the handshake thread per message, the
	 * control thread's timers and get.  Writer: set, link up/down. */
	pthread_rwlock_t cfg_lock;
	struct wg_proto proto;
	struct ratelimiter *ratelimiter;
	struct uapi_store store;
	uint64_t sync_gen;	/* sync_runtime()'s mark-and-sweep */
	struct allowedips *rt;
	struct vg_bind **binds;	/* nworkers of them */
	bool binds_open;
	atomic_uint bind_gen;
	bool link_up;
	atomic_uint mtu;
	atomic_bool loop_logged;
	uint16_t port;		/* bound port (0: down) */

	/* handshake thread */
	pthread_t hs_thread;
	bool hs_started;
	pthread_mutex_t hs_lock;
	pthread_cond_t hs_cond;
	struct hs_item *hs_queue;
	unsigned int hs_head, hs_count;
	struct dcounters hs_cnt;

	/* control thread */
	struct vg_route_watch *route_watch;
	pthread_t ctl_thread;
	bool ctl_started;
	int ctl_epfd;
	bool uapi_on;
	struct uapi_server uapi;
	struct dcounters ctl_cnt;

	atomic_bool stopping;
	int stop_fd;		/* eventfd: device_stop() -> device_wait() */
	int wake_fd;		/* eventfd, never read: wakes every epoll at exit */
	pthread_mutex_t exit_lock;
	pthread_cond_t exit_cond;
	int exit_reason;	/* -1 while running */
};

/* device.c: lifetime, link state */
uint64_t dev_now(struct device *d);
void dev_log(struct device *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dev_exit(struct device *d, int reason);
struct dev_peer *dev_peer_of(struct wg_peer *wp);
int dev_open_binds(struct device *d, uint16_t port);
int dev_link_up(struct device *d);
void dev_link_down(struct device *d);
void dev_clear_all_src(struct device *d);

#define TX_HEAD 64	/* head room in front of a TUN read: the data header */
#define RX_HEAD 48	/* where a datagram lands; its plaintext is at 64 */
#define SLOT_SIZE (64 + TUN_MAX_PACKET + 64)

/* worker.c: the queue workers and their mailboxes */
int dev_worker_init(struct device *d, struct worker *w, unsigned int id);
void dev_worker_free(struct worker *w);
int dev_worker_start_all(struct device *d);
void dev_worker_stop_all(struct device *d);
unsigned int dev_worker_for(struct device *d, const struct dev_peer *p);
void dev_epoll_add(int epfd, int fd, uint64_t tag, uint32_t events);
int dev_epoll_wait(struct device *d, const char *who, int epfd, struct epoll_event *evs, int n,
		   int timeout);
int dev_mbox_push(struct worker *w, const struct mbox_item *it);
void dev_mbox_purge_peer(struct device *d, struct dev_peer *p);
void dev_kick_workers(struct device *d);
void dev_act(struct device *d, struct worker *self, const struct wg_action *act,
	     const struct vg_endpoint *to, unsigned int via);
/* Without the worker threads (tests, fuzzers): the mailbox, sent from here. */
void dev_worker_run_mbox(struct worker *w, uint64_t now);

/* send.c: TUN -> UDP */
int dev_send_tun_batch(struct worker *w, uint64_t now);
void dev_send_mbox(struct worker *w, struct mbox_item *it, uint64_t now);

/* receive.c: UDP -> TUN */
int dev_recv_batch(struct worker *w, int family, uint64_t now);

/* icmp.c */
/* Builds an ICMP/ICMPv6 destination unreachable for pkt into out (IP
 * packet); returns its length or 0 when none is due (ICMP errors, non-first
 * fragments, multicast sources, ...). */
size_t dev_icmp_unreachable(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len);

/* handshake.c: the handshake thread */
int dev_hs_start(struct device *d);
void dev_hs_stop(struct device *d);
/* 0, or -ENOSPC when the queue is full (counted by the caller). */
int dev_hs_enqueue(struct device *d, const struct hs_item *it);
/* Without the handshake thread (tests, fuzzers): the queue, handled here. */
void dev_hs_run_queued(struct device *d);

/* control.c: the control thread */
int dev_ctl_start(struct device *d);
void dev_ctl_stop(struct device *d);

/* config.c: set and get */
void dev_config_init(struct device *d);
void dev_remove_peer(struct device *d, struct wg_peer *wp);

/* stats.c: counters */
void dev_count_handshake(struct dcounters *dc, uint64_t *pc, uint8_t type, size_t len, bool sent);
void dev_peer_bytes(const struct dev_peer *p, uint64_t *rx, uint64_t *tx);
int dev_stats(void *ctx, struct uapi_emitter *em);

#endif
