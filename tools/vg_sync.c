// SPDX-License-Identifier: MIT
/* syncconf's merge of a configuration file with the running configuration
 * (tools/vg_config.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "tools/vg_config.h"

struct peer_origin {
	struct vg_peer *peer;
	bool from_file;
};

static int origin_cmp(const void *x, const void *y)
{
	const struct peer_origin *a = x, *b = y;
	int ret = memcmp(a->peer->public_key, b->peer->public_key, VG_KEY_LEN);

	return ret ? ret : (int)a->from_file - (int)b->from_file;
}

static bool sync_peer(struct vg_device *file, struct peer_origin *v, size_t i, size_t n,
		      FILE *err)
{
	struct vg_peer *next = i + 1 < n && v[i + 1].from_file ? v[i + 1].peer : NULL, *rm;

	if (next && memcmp(v[i].peer->public_key, next->public_key, VG_KEY_LEN))
		next = NULL;
	if (!next) {
		rm = calloc(1, sizeof(*rm));
		if (!rm) {
			fprintf(err, "Peer allocation: %s\n", strerror(errno));
			return false;
		}
		rm->flags = VG_PEER_REMOVE;
		memcpy(rm->public_key, v[i].peer->public_key, VG_KEY_LEN);
		rm->next = file->first_peer;
		file->first_peer = rm;
		return true;
	}
	if ((v[i].peer->flags & VG_PEER_HAS_PRESHARED_KEY) &&
	    !(next->flags & VG_PEER_HAS_PRESHARED_KEY)) {
		sodium_memzero(next->preshared_key, VG_KEY_LEN);
		next->flags |= VG_PEER_HAS_PRESHARED_KEY;
	}
	if (v[i].peer->keepalive && !(next->flags & VG_PEER_HAS_KEEPALIVE)) {
		next->keepalive = 0;
		next->flags |= VG_PEER_HAS_KEEPALIVE;
	}
	return true;
}

bool vg_config_sync(struct vg_device *file, struct vg_device *runtime, FILE *err)
{
	struct peer_origin *v;
	struct vg_peer *p;
	size_t n = 0, i = 0;
	bool ok = true;

	if (!file->first_peer || !runtime->first_peer)
		return true;
	file->flags &= ~VG_DEV_REPLACE_PEERS;
	vg_for_each_peer(file, p)
		++n;
	vg_for_each_peer(runtime, p)
		++n;
	v = calloc(n, sizeof(*v));
	if (!v) {
		fprintf(err, "Peer list allocation: %s\n", strerror(errno));
		return false;
	}
	vg_for_each_peer(file, p)
		v[i++] = (struct peer_origin){ p, true };
	vg_for_each_peer(runtime, p)
		v[i++] = (struct peer_origin){ p, false };
	qsort(v, n, sizeof(*v), origin_cmp);
	for (i = 0; ok && i < n; ++i) {
		if (!v[i].from_file)
			ok = sync_peer(file, v, i, n, err);
	}
	free(v);
	return ok;
}
