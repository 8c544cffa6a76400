/* SPDX-License-Identifier: MIT */
/*
 * The harness of the whole-device fuzz targets: one device ("D") run
 * without its threads over the in-memory TUN and UDP network, and a
 * scripted peer ("H") with its own protocol core that holds a session with
 * it.  An input is a list of operations; each target picks which ones it
 * may use.  Everything runs on the calling thread, deterministically but
 * for the random keys and indices.
 *
 * Checks, besides the sanitizers: every packet D writes to its TUN was
 * sealed by H in this input (or is an ICMP error D made), none twice with
 * one key and counter, and its source is inside H's allowed IPs; every
 * packet D seals for H is addressed to one of H's allowed IPs.
 */
#ifndef VGUARD_TESTS_FUZZ_DEVICE_FUZZ_H
#define VGUARD_TESTS_FUZZ_DEVICE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

enum dfz_op {
	DFZ_RAW,	/* any datagram to D */
	DFZ_HS,		/* a handshake-shaped datagram with valid MACs */
	DFZ_INIT,	/* H's own initiation, maybe altered, MACs restamped */
	DFZ_DATA,	/* any inner packet, sealed by H with a chosen counter */
	DFZ_FLOW,	/* a TCP/UDP segment of one of a few flows, sealed by H */
	DFZ_REPEAT,	/* the last datagram again, a few or 128+ times */
	DFZ_FLUSH,	/* deliver everything queued and let both sides answer */
	DFZ_TIME,	/* D's clock moves on */
	DFZ_DINIT,	/* D initiates; H's response maybe altered */
	DFZ_LINK,	/* the link goes down, and maybe up again */
	DFZ_TUN_RAW,	/* any virtio header and packet into D's TUN */
	DFZ_TUN_GSO,	/* a TSO/USO super-packet into D's TUN */
	DFZ_RESET,	/* D drops its session with H (it must stage, initiate) */
	DFZ_MTU,	/* D's MTU changes (padding) */
	DFZ_NOPS
};

/* Runs one input: a byte (% nops) picks an ops[] entry, a byte of flags and
 * its arguments follow. */
void dfz_run(const uint8_t *data, size_t size, const enum dfz_op *ops, size_t nops);

#endif
