/* SPDX-License-Identifier: MIT */
/* Inside the whole-device fuzz harness: device_fuzz.c (the two sides, the
 * checks, the session) and device_fuzz_ops.c (the operations). */
#ifndef VGUARD_TESTS_FUZZ_DEVICE_FUZZ_IMPL_H
#define VGUARD_TESTS_FUZZ_DEVICE_FUZZ_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/device_impl.h"
#include "tests/fuzz/device_fuzz.h"

#define D_PORT 51820
#define MAX_DGRAMS 1024
#define ARENA (512 * 1024)
#define MAX_RECS 512
#define H_SLOT 65600
/* D's session is renewed before it gets old enough for a timer to care. */
#define SESSION_MAX_AGE (100 * WG_NSEC_PER_SEC)
#define HS_BUDGET 3

struct dgram {
	const uint8_t *data;
	uint16_t len;
	uint8_t src;	/* how H sends it: enum src_kind */
};

enum src_kind { SRC_V4, SRC_V4_SPOOF, SRC_V6, SRC_V6_SPOOF, SRC_KINDS };

/* An inner packet H sealed for D in this input. */
struct rec {
	uint32_t idx;	/* D's keypair index the message carried */
	uint64_t nonce;
	uint32_t off, len;	/* the padded plaintext in the arena */
	bool spent;	/* a packet under this key and counter reached D's TUN */
};

struct dfz {
	struct vg_memnet *net;
	struct tun *tun;
	struct device *dev;
	struct worker *w;
	struct wg_peer *dwp;	/* D's peer for H */
	uint64_t now;		/* D's clock */
	uint64_t born;		/* when the session in use came up */
	uint32_t d_idx;		/* D's current keypair when born was set */

	struct wg_proto hp;
	struct wg_peer *hpeer;	/* H's peer: D */
	uint64_t h_now;
	struct vg_bind *hb;
	uint16_t h_port;

	struct dgram q[MAX_DGRAMS];
	unsigned int nq;
	uint8_t arena[ARENA];
	size_t used;
	struct rec recs[MAX_RECS];
	unsigned int nrecs;
	bool rec_lost;		/* a sealed packet went unrecorded */
	unsigned int hs_budget;	/* costly operations left in this input */
	uint32_t seqs[8];	/* DFZ_FLOW: next sequence number per flow */

	/* DFZ_DINIT: alter H's next response before it goes out */
	uint8_t alter[8];
	unsigned int nalter;
	bool alter_macs;
	unsigned int depth;
};

struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) << 8 | u8(in));
}

/* H's datagrams for D, sent by dfz_pump(); src: enum src_kind. */
void dfz_queue(struct dfz *z, const uint8_t *data, size_t len, unsigned int src);
/* Seals plain for D under H's current keypair.  counter: 0 the next one,
 * 1 an earlier one (arg back), 2 arg itself; alter: 1 flip a byte, 2 put
 * arg as the index, after sealing. */
void dfz_h_seal(struct dfz *z, const uint8_t *plain, size_t len, unsigned int counter,
		uint64_t arg, unsigned int alter, unsigned int src);
/* Delivers everything queued and lets both sides answer until quiet. */
void dfz_pump(struct dfz *z);
void dfz_link_event(struct dfz *z, enum tun_event_type type);
/* One operation (device_fuzz_ops.c). */
void dfz_run_op(struct dfz *z, enum dfz_op op, uint8_t flags, struct in *in);

#endif
