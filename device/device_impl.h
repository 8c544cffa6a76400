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
#include "device/epoch.h"
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
	/* when its own outer datagram last came back; read and written with
	 * __atomic, so 8-aligned also where the ABI aligns uint64_t to 4 */
	uint64_t loop_at __attribute__((aligned(8)));
	atomic_bool removed;	/* unlinked: nothing new may refer to it */
	struct epoch_entry retire;
	unsigned int nslots;	/* DEV_SLOTS() of its device */
	struct pcounters cnt[];
};

static inline struct dev_peer *route_lookup(const struct allowedips *rt, int family,
					    const uint8_t *addr)
{
	return rt ? allowedips_lookup(rt, family, addr) : NULL;
}

/* The UDP sockets, one bind per queue, while the link is up. */
struct dev_binds {
	struct device *dev;
	uint16_t port;
	unsigned int n;
	struct epoch_entry retire;
	struct vg_bind *b[];
};

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
	/* What this batch uses, loaded once it entered its epoch. */
	const struct allowedips *rt;
	struct vg_bind *bind;
	unsigned int udp_pending;	/* 1 IPv4, 2 IPv6: datagrams left in scratch */
	/* Reads that keep failing: that fd rests a while (worker.c). */
	uint64_t rest_until[3];		/* TUN, IPv4, IPv6; ns, 0: not resting */
	int rest_fd[3];
	unsigned int udp_empty[2];	/* readable yet nothing read, in a row */

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

	/* Held by set, get, stats, link changes and the control thread's
	 * timers, never by the data path: workers and the handshake thread
	 * read rt, binds and peers inside an epoch (device/epoch.h) and
	 * what a writer replaces is freed once they have all moved on. */
	pthread_mutex_t cfg_mutex;
	struct epoch epoch;	/* slots: the workers, then the handshake thread */
	struct wg_proto proto;
	struct ratelimiter *ratelimiter;
	struct uapi_store store;
	/* Allowed IPs (device/allowedips.h), changed in place by sets while
	 * the workers look up in it (allowedips_set_concurrent). */
	struct allowedips *rt;
	_Atomic(struct dev_binds *) binds;	/* NULL: no sockets */
	struct vg_bind_stats binds_gone;	/* counters of closed sockets */
	atomic_uint bind_gen;
	bool link_up;
	bool binds_retry;	/* up, but our own closing sockets held the port */
	uint64_t binds_probed_at;	/* control thread: last vg_bind_check() probe */
	atomic_uint fault_logged;	/* DEV_LOGGED_* said once already */
	atomic_uint mtu;
	atomic_bool loop_logged;
	_Atomic(struct dev_addrs *) addrs;	/* the host's addresses (addrs.c) */

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
void dev_bind_config(struct device *d, struct vg_bind_config *c, uint16_t port, uint32_t mark);
int dev_binds_open(struct device *d, uint16_t port, uint32_t mark, struct dev_binds **out);
void dev_binds_publish(struct device *d, struct dev_binds *nb);
int dev_link_up(struct device *d);
void dev_link_down(struct device *d);
void dev_clear_all_src(struct device *d);
/* Faults logged once per device (README.md, "Faults"). */
enum { DEV_LOGGED_NOMEM = 1 << 0 };
void dev_log_once(struct device *d, unsigned int event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reopens the sockets when one was lost underneath; cfg_mutex held. */
void dev_binds_check(struct device *d, uint64_t now);

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
/* A worker's batch runs between these: enter returns the sockets'
 * generation, and sets w->rt and w->bind (device/epoch.h). */
unsigned int dev_worker_enter(struct worker *w);
void dev_worker_exit(struct worker *w);
/* Without the worker threads (tests, fuzzers): the mailbox, sent from here. */
void dev_worker_run_mbox(struct worker *w, uint64_t now);

/* send.c: TUN -> UDP */
int dev_send_tun_batch(struct worker *w, uint64_t now);
void dev_send_mbox(struct worker *w, struct mbox_item *it, uint64_t now);

/* receive.c: UDP -> TUN */
int dev_recv_batch(struct worker *w, int family, uint64_t now);

/* icmp.c */
/* Builds an ICMP/ICMPv6 destination unreachable for pkt into out (IP
 * packet) from src (4 or 16 bytes; NULL: from pkt's destination); returns
 * its length or 0 when none is due (ICMP errors, non-first fragments,
 * multicast sources, ...). */
size_t dev_icmp_unreachable(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			    const uint8_t *src);

/* addrs.c: the host's addresses, and the source of an ICMP error */
void dev_addrs_refresh(struct device *d);
void dev_addrs_free(struct device *d);
bool dev_icmp_source(struct device *d, const uint8_t *pkt, size_t len, uint8_t *out);
bool dev_local_source(struct device *d, const uint8_t *src4);

/* handshake.c: the handshake thread */
int dev_hs_start(struct device *d);
void dev_hs_stop(struct device *d);
/* A handshake message a worker received: checked, answered or queued. */
void dev_hs_receive(struct worker *w, const struct vg_rx_pkt *pk, uint64_t now);
/* Without the handshake thread (tests, fuzzers): the queue, handled here. */
void dev_hs_run_queued(struct device *d);

/* control.c: the control thread */
int dev_ctl_start(struct device *d);
void dev_ctl_stop(struct device *d);

/* config.c: peers as objects, get; config_txn.c: set */
void dev_config_init(struct device *d);
struct dev_peer *dev_peer_alloc(struct device *d, const uint8_t *pub,
				const struct noise_static_identity *id);
void dev_peer_free(struct dev_peer *p);		/* never linked, or all stopped */
void dev_peer_retire(struct device *d, struct dev_peer *p);	/* unlink, free later */
void dev_remove_peer(struct device *d, struct wg_peer *wp);	/* all stopped */
int dev_set(void *ctx, const struct uapi_txn *txn);

/* upgrade.c: a new process asks to take over (UAPI_UPGRADE_LINE) */
void dev_upgrade_uapi(void *ctx, int fd);

/* stats.c: counters */
void dev_count_handshake(struct dcounters *dc, uint64_t *pc, uint8_t type, size_t len, bool sent);
void dev_peer_bytes(const struct dev_peer *p, uint64_t *rx, uint64_t *tx);
int dev_stats(void *ctx, struct uapi_emitter *em);

#endif
