// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for everything vguard parses from the wire before a
 * peer is known: handshake initiations, responses, cookie replies and data
 * messages.  The first input byte picks the path:
 *   bit 0-1: 0 handshake message as is, 1 with a valid MAC1 stamped on it
 *            (to reach the Noise parsing), 2 data message, 3 data message
 *            aimed at a live keypair index
 *   bit 2:   "under load" (MAC2 / cookie-reply path)
 * The rest is the message.  Both devices hold a live session, so state
 * changes caused by the input are exercised too.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "device/proto_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sim s;
static bool ready;

static void init(void)
{
	sim_init(&s);
	sim_send(&s.a, "x", 1);
	ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[SIM_MAX_PKT];
	struct noise_keypair *kp;
	struct wg_action act;
	uint8_t *plain;
	size_t len, pl;
	unsigned int mode;

	if (!ready)
		init();
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	mode = data[0];
	len = size - 1;
	memcpy(buf, data + 1, len);
	s.now += 1000000;
	switch (mode & 3) {
	case 1:
		if (len >= 36)
			cookie_add_macs(&s.a.peer->cookie, buf, len, s.now);
		/* fall through */
	case 0:
		if (wg_proto_handle_handshake(&s.b.p, buf, len, &s.a.self, mode & 4,
					      s.now, &act) == 0)
			sim_act(&s.b, &act);
		break;
	case 3:
		if (len >= 8 && s.b.peer->keypairs.current) {
			uint32_t idx = s.b.peer->keypairs.current->entry.index;

			memcpy(buf + 4, &idx, 4);
		}
		/* fall through */
	case 2:
		if (wg_data_open(&s.b.p, buf, len, s.now, &kp, &plain, &pl) == 0) {
			wg_peer_received_data(kp->peer, kp, &s.a.self, pl == 0, s.now,
					      &act);
			noise_keypair_put(kp);
		}
		break;
	}
	return 0;
}
