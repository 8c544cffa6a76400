/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_TUN_IMPL_H
#define VGUARD_TUN_TUN_IMPL_H

/* Private to tun/: the device object shared by the Linux and in-memory
 * TUNs.  The batch logic (split, GRO, counters, fallbacks) lives in
 * tun_core.c, the offload feature states in tun_features.c; an
 * implementation only moves single frames and events. */

#include <net/if.h>
#include <sys/types.h>

#include "tun/tun.h"

struct gro_table;

struct tun_ops {
	/* Writes one frame (virtio header first when vnet_hdr); returns the
	 * bytes written or a negative errno (-EAGAIN: wait for POLLOUT). */
	ssize_t (*xmit)(struct tun *t, unsigned int q, const void *buf, size_t len);
	int (*get_mtu)(struct tun *t);
	int (*set_mtu)(struct tun *t, unsigned int mtu);
	/* Fetches one raw event; 1, 0 (none) or a negative errno. */
	int (*event)(struct tun *t, struct tun_event *ev);
	/* tun.h: tun_addrs(), tun_orig_source(). */
	int (*addrs)(struct tun *t, struct tun_addr *out, unsigned int cap);
	int (*orig_source)(struct tun *t, const uint8_t *pkt, size_t len, uint8_t *out);
	void (*destroy)(struct tun *t);
};

struct tun_queue {
	int fd;
	uint8_t *scratch;		/* VNET_HDR_LEN + TUN_MAX_PACKET */
	struct gro_table *gro;
	unsigned int gro_flags;		/* what gro was initialised with */
	uint16_t out[TUN_MAX_BATCH];
	struct tun_counters c;		/* written by the queue's worker only */
};

/* The queue's counters have one writer (its worker) and are read by
 * tun_get_counters() from any thread: relaxed atomics keep that race-free
 * without a locked instruction. */
#define TUN_CNT_ADD(q, field, v)                                                   \
	__atomic_store_n(&(q)->c.field,                                            \
			 __atomic_load_n(&(q)->c.field, __ATOMIC_RELAXED) + (v),   \
			 __ATOMIC_RELAXED)
#define TUN_CNT_MAX(q, field, v)                                                   \
	do {                                                                       \
		if ((uint64_t)(v) > __atomic_load_n(&(q)->c.field, __ATOMIC_RELAXED)) \
			__atomic_store_n(&(q)->c.field, (uint64_t)(v), __ATOMIC_RELAXED); \
	} while (0)

struct tun {
	const struct tun_ops *ops;
	char name[IFNAMSIZ];
	int ifindex;
	unsigned int nqueues;
	int event_fd;
	bool vnet_hdr;
	unsigned int requested;
	unsigned int accepted;
	bool feat_on[TUN_FEAT_COUNT];
	enum tun_offload_reason reason[TUN_FEAT_COUNT];	/* atomic for the GRO ones */
	unsigned int gro_flags;		/* GRO_TCP | GRO_UDP; atomic */
	unsigned int gro_logged;	/* atomic */
	unsigned int err_logged;	/* TUN_LOG_* already said; atomic */
	bool gone;			/* atomic: a queue saw EBADFD */
	bool local_source_ok;		/* tun_local_source_ok(); set at open */
	/* link state, control thread only */
	bool seen_up, is_up, closed;
	unsigned int last_mtu;
	void (*log)(void *ctx, const char *msg);
	void (*log_fault)(void *ctx, const char *msg);
	void *log_ctx;
	void *priv;
	struct tun_queue q[];		/* nqueues of them */
};

/* Allocates a device with nqueues queues (fds set to -1). */
struct tun *tun_core_alloc(const struct tun_ops *ops, unsigned int nqueues,
			   const struct tun_options *o);
/* Frees what tun_core_alloc() made and closes queue fds >= 0. */
void tun_core_free(struct tun *t);
/* Sets the feature states from vnet_hdr, accepted and the options. */
void tun_core_features(struct tun *t, const struct tun_options *o, bool uso_known);
/* Turns off the GRO kinds in `off` (GRO_TCP | GRO_UDP), once, with a log
 * line; any thread. */
void tun_core_gro_disable(struct tun *t, unsigned int off, enum tun_offload_reason why);
/* Writes a 2-segment coalesced TCP (and UDP) packet the kernel discards;
 * turns GRO off when it is refused with EINVAL. */
void tun_core_probe_gro(struct tun *t);
/* Applies the link-state rules to a raw event; true when it is delivered. */
bool tun_core_filter_event(struct tun *t, struct tun_event *ev);
void tun_core_logf(struct tun *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* tun_addrs.c, tun_conntrack.c: the Linux TUN's view of the host. */
struct nlmsghdr;
typedef int (*tun_nl_cb)(const struct nlmsghdr *nlh, void *data);
/* One request on a fresh netlink socket of `bus`; the answers go to cb
 * (NULL: only an ack is expected).  0 or a negative errno. */
int tun_nl_request(int bus, struct nlmsghdr *nlh, tun_nl_cb cb, void *data);
int tun_linux_addrs(struct tun *t, struct tun_addr *out, unsigned int cap);
int tun_linux_accept_local(struct tun *t);
int tun_linux_orig_source(struct tun *t, const uint8_t *pkt, size_t len, uint8_t *out);

#endif
