// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the whole receive path of a device: datagrams from
 * the network (arbitrary ones, handshake-shaped ones with valid MACs, the
 * peer's own handshakes altered, data messages it sealed around arbitrary
 * inner packets with chosen counters) through bind -> classify ->
 * handshake queue / decrypt -> replay and source checks -> GRO -> TUN,
 * and whatever the device answers.  tests/fuzz/device_fuzz.h has the
 * operations and the checks.
 */
#include "config.h"

#include "tests/fuzz/device_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum dfz_op ops[] = {
	DFZ_RAW, DFZ_HS, DFZ_INIT, DFZ_DATA, DFZ_FLOW, DFZ_REPEAT,
	DFZ_FLUSH, DFZ_TIME, DFZ_DINIT, DFZ_LINK,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dfz_run(data, size, ops, sizeof(ops) / sizeof(ops[0]));
	return 0;
}
