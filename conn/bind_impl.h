/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_BIND_IMPL_H
#define VGUARD_CONN_BIND_IMPL_H

/* What the Linux and in-memory binds share behind bind.h (private). */

#include "conn/bind.h"

struct vg_bind_ops {
	int (*recv)(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n);
	/* NULL: recv, which always copies */
	int (*recv_lent)(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n);
	bool (*pending)(const struct vg_bind *b, int family);
	int (*send)(struct vg_bind *b, const struct vg_endpoint *ep, const struct iovec *pkts,
		    unsigned int n, unsigned int *result);
	int (*fd)(const struct vg_bind *b, int family);
	int (*set_fwmark)(struct vg_bind *b, uint32_t mark);
	/* Rebind in two steps so a group can be moved all or nothing. */
	int (*rebind_prepare)(struct vg_bind *b, uint16_t port, void **state);
	uint16_t (*prepared_port)(void *state);
	void (*rebind_commit)(struct vg_bind *b, void *state);
	void (*rebind_abort)(void *state);
	int (*set_offload)(struct vg_bind *b, unsigned int mask, bool on);
	/* Asks the kernel whether each socket is still the one opened; NULL:
	 * nothing can replace them. Any thread. */
	int (*probe)(struct vg_bind *b);
	void (*close)(struct vg_bind *b);
};

/* Events logged once per bind. */
enum {
	VG_LOG_NO_V4 = 1 << 0,
	VG_LOG_NO_V6 = 1 << 1,
	VG_LOG_GSO_EIO = 1 << 2,
	VG_LOG_GSO_EINVAL = 1 << 3,
	VG_LOG_GSO_EMSGSIZE = 1 << 4,
	VG_LOG_STICKY = 1 << 5,
	VG_LOG_UNREACH = 1 << 6,
	VG_LOG_TXERR = 1 << 7,
	VG_LOG_GRO = 1 << 8,
	VG_LOG_SOCKBUF = 1 << 9,
	VG_LOG_RXERR = 1 << 10,
	VG_LOG_LOST = 1 << 11,
	VG_LOG_TXSTALL = 1 << 12,
};
/* The events that are faults rather than fallbacks (cfg.log_fault); a lost
 * socket is the caller's to report, with what it does about it. */
#define VG_LOG_FAULTS (VG_LOG_UNREACH | VG_LOG_TXERR | VG_LOG_RXERR | VG_LOG_TXSTALL)

struct vg_bind {
	const struct vg_bind_ops *ops;
	struct vg_bind_config cfg;
	uint16_t port;
	unsigned int offloads;			/* VG_BIND_* in use */
	enum vg_bind_offload_reason reason[4];	/* per offload bit index; atomic */
	unsigned int logged;
	int lost;			/* errno of the first socket lost; atomic */
	struct vg_bind_stats stats;
};

/* Counters are written by the owning worker only and read by others:
 * relaxed atomics keep that race-free without a locked instruction. */
#define VG_STAT_ADD(b, field, v)                                                       \
	__atomic_store_n(&(b)->stats.field,                                            \
			 __atomic_load_n(&(b)->stats.field, __ATOMIC_RELAXED) + (v),   \
			 __ATOMIC_RELAXED)

void vg_bind_init(struct vg_bind *b, const struct vg_bind_ops *ops,
		  const struct vg_bind_config *cfg);
void vg_bind_log(struct vg_bind *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vg_bind_log_once(struct vg_bind *b, unsigned int event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Index 0..3 of a single VG_BIND_* bit. */
unsigned int vg_bind_bit_index(unsigned int bit);
void vg_bind_set_state(struct vg_bind *b, unsigned int bits, bool on,
		       enum vg_bind_offload_reason why);
/* Records that a socket was closed or replaced underneath (err > 0). */
void vg_bind_mark_lost(struct vg_bind *b, int err);

#endif
