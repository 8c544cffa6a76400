// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the TUN side of a device: arbitrary virtio headers
 * and packets (and valid TSO/USO super-packets, maybe altered) read from
 * the TUN through split -> route -> seal (or stage and handshake, or an
 * ICMP error), and arbitrary inner packets the peer sealed through the
 * source check -> GRO -> TUN write.  tests/fuzz/device_fuzz.h has the
 * operations and the checks.
 */
#include "config.h"

#include "tests/fuzz/device_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum dfz_op ops[] = {
	DFZ_TUN_RAW, DFZ_TUN_GSO, DFZ_DATA, DFZ_FLOW, DFZ_FLUSH,
	DFZ_TIME, DFZ_RESET, DFZ_MTU, DFZ_LINK,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dfz_run(data, size, ops, sizeof(ops) / sizeof(ops[0]));
	return 0;
}
