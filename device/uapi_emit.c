/* SPDX-License-Identifier: MIT */
/*
 * The replies: get=1 formats the snapshot the device fills exactly as
 * wireguard-go's IpcGetOperation does, and stats=1 is written by the device
 * through an emitter.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/uapi.h"
#include "device/uapi_impl.h"

/* ---- get=1 ---- */

struct uapi_peer_info *uapi_snapshot_add_peer(struct uapi_snapshot *s)
{
	struct uapi_peer_info *p;

	/* Peers hold preshared keys. */
	if (uapi_grow_secret((void **)&s->peers, &s->cap_peers, s->n_peers,
			     sizeof(*s->peers)))
		return NULL;
	p = &s->peers[s->n_peers++];
	memset(p, 0, sizeof(*p));
	return p;
}

int uapi_peer_info_add_aip(struct uapi_peer_info *p, const struct uapi_prefix *prefix)
{
	if (uapi_grow((void **)&p->aips, &p->cap_aips, p->n_aips, sizeof(*p->aips)))
		return -ENOMEM;
	p->aips[p->n_aips++] = *prefix;
	return 0;
}

void uapi_snapshot_clear(struct uapi_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n_peers; i++)
		free(s->peers[i].aips);
	if (s->peers)
		sodium_memzero(s->peers, s->cap_peers * sizeof(*s->peers));
	free(s->peers);
	sodium_memzero(s, sizeof(*s));
}

char *uapi_format_get(const struct uapi_snapshot *s, size_t *len)
{
	char addr[UAPI_ADDRSTRLEN];
	struct uapi_sbuf b = { 0 };
	size_t i, j;

	if (!sodium_is_zero(s->private_key, UAPI_KEY_LEN))
		uapi_sbuf_key(&b, "private_key", s->private_key);
	if (s->listen_port)
		uapi_sbuf_printf(&b, "listen_port=%u\n", s->listen_port);
	if (s->fwmark)
		uapi_sbuf_printf(&b, "fwmark=%u\n", s->fwmark);
	for (i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_info *p = &s->peers[i];

		uapi_sbuf_key(&b, "public_key", p->public_key);
		uapi_sbuf_key(&b, "preshared_key", p->preshared_key);
		uapi_sbuf_printf(&b, "protocol_version=1\n");
		if (p->has_endpoint) {
			uapi_format_endpoint(addr, &p->endpoint);
			uapi_sbuf_printf(&b, "endpoint=%s\n", addr);
		}
		uapi_sbuf_printf(&b, "last_handshake_time_sec=%" PRId64 "\n",
			    p->last_handshake_sec);
		uapi_sbuf_printf(&b, "last_handshake_time_nsec=%" PRId64 "\n",
			    p->last_handshake_nsec);
		uapi_sbuf_printf(&b, "tx_bytes=%" PRIu64 "\n", p->tx_bytes);
		uapi_sbuf_printf(&b, "rx_bytes=%" PRIu64 "\n", p->rx_bytes);
		uapi_sbuf_printf(&b, "persistent_keepalive_interval=%u\n",
			    p->persistent_keepalive_interval);
		for (j = 0; j < p->n_aips; j++) {
			uapi_format_prefix(addr, &p->aips[j]);
			uapi_sbuf_printf(&b, "allowed_ip=%s\n", addr);
		}
	}
	if (!uapi_sbuf_reserve(&b, 0)) {
		uapi_sbuf_wipe(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- stats=1 ---- */

const char *uapi_offload_state_name(enum uapi_offload_state s)
{
	switch (s) {
	case UAPI_OFFLOAD_ON:
		return "on";
	case UAPI_OFFLOAD_DISABLED:
		return "off:disabled";
	case UAPI_OFFLOAD_UNSUPPORTED:
		return "off:unsupported";
	case UAPI_OFFLOAD_PROBE_FAILED:
		return "off:probe-failed";
	case UAPI_OFFLOAD_ERROR:
		return "off:error";
	case UAPI_OFFLOAD_INACTIVE:
		return "off:inactive";
	}
	return "off";
}

/* Keys and values must not be able to forge lines or the reply's end. */
static bool clean(const char *s)
{
	return !strpbrk(s, "\n=") && *s;
}

int uapi_emit_u64(struct uapi_emitter *em, const char *key, uint64_t v)
{
	if (!clean(key))
		return -EINVAL;
	uapi_sbuf_printf(&em->b, "%s=%" PRIu64 "\n", key, v);
	return em->b.oom ? -ENOMEM : 0;
}

int uapi_emit_str(struct uapi_emitter *em, const char *key, const char *v)
{
	if (!clean(key) || strchr(v, '\n'))
		return -EINVAL;
	uapi_sbuf_add(&em->b, key, strlen(key));
	uapi_sbuf_add(&em->b, "=", 1);
	uapi_sbuf_add(&em->b, v, strlen(v));
	uapi_sbuf_add(&em->b, "\n", 1);
	return em->b.oom ? -ENOMEM : 0;
}

int uapi_emit_key(struct uapi_emitter *em, const char *key, const uint8_t k[UAPI_KEY_LEN])
{
	if (!clean(key))
		return -EINVAL;
	uapi_sbuf_key(&em->b, key, k);
	return em->b.oom ? -ENOMEM : 0;
}

int uapi_emit_device_stats(struct uapi_emitter *em, const struct uapi_device_stats *s)
{
#define X_STATE(n) uapi_emit_str(em, "offload_" #n, uapi_offload_state_name(s->n));
#define X_COUNT(n) uapi_emit_u64(em, #n, s->n);
	UAPI_OFFLOADS(X_STATE)
	UAPI_PEER_COUNTERS(X_COUNT)
	UAPI_DEVICE_COUNTERS(X_COUNT)
	return em->b.oom ? -ENOMEM : 0;
}

int uapi_emit_peer_stats(struct uapi_emitter *em, const struct uapi_peer_stats *s)
{
	uapi_emit_key(em, "public_key", s->public_key);
	UAPI_PEER_COUNTERS(X_COUNT)
	return em->b.oom ? -ENOMEM : 0;
#undef X_STATE
#undef X_COUNT
}
