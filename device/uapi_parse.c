/* SPDX-License-Identifier: MIT */
/*
 * set=1: request lines into a struct uapi_txn, validated completely before
 * the device applies any of it (see device/uapi.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/uapi.h"
#include "device/uapi_impl.h"

void uapi_parser_init(struct uapi_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void uapi_txn_clear(struct uapi_txn *txn)
{
	size_t i;

	for (i = 0; i < txn->n_peers; i++)
		free(txn->peers[i].aips);
	if (txn->peers)
		sodium_memzero(txn->peers, txn->cap_peers * sizeof(*txn->peers));
	free(txn->peers);
	sodium_memzero(txn, sizeof(*txn));
}

/* Peer sections hold preshared keys, so growing them must not leave a copy
 * behind in freed memory. */
static int add_peer(struct uapi_txn *txn, const uint8_t key[UAPI_KEY_LEN])
{
	struct uapi_peer_op *op;

	if (uapi_grow_secret((void **)&txn->peers, &txn->cap_peers, txn->n_peers,
			     sizeof(*txn->peers)))
		return UAPI_ERR_UNKNOWN;
	op = &txn->peers[txn->n_peers++];
	memset(op, 0, sizeof(*op));
	memcpy(op->public_key, key, UAPI_KEY_LEN);
	return 0;
}

static int add_aip(struct uapi_peer_op *op, enum uapi_aip_action action,
		   const struct uapi_prefix *prefix)
{
	struct uapi_aip_op *a;

	if (uapi_grow((void **)&op->aips, &op->cap_aips, op->n_aips, sizeof(*op->aips)))
		return UAPI_ERR_UNKNOWN;
	a = &op->aips[op->n_aips++];
	memset(a, 0, sizeof(*a));
	a->action = action;
	if (prefix)
		a->prefix = *prefix;
	return 0;
}

static void clamp_key(uint8_t k[UAPI_KEY_LEN])
{
	/* FromMaybeZeroHex: the all-zero key stays zero (no key). */
	if (sodium_is_zero(k, UAPI_KEY_LEN))
		return;
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
}

static int parse_device_line(struct uapi_txn *txn, const char *key, size_t klen,
			     const char *val, size_t vlen)
{
	uint64_t v;

	if (uapi_str_eq(key, klen, "private_key")) {
		if (uapi_parse_key(txn->private_key, val, vlen))
			return UAPI_ERR_INVALID;
		clamp_key(txn->private_key);
		txn->flags |= UAPI_DEV_PRIVATE_KEY;
	} else if (uapi_str_eq(key, klen, "listen_port")) {
		if (uapi_parse_uint(val, vlen, UINT16_MAX, &v))
			return UAPI_ERR_INVALID;
		txn->listen_port = (uint16_t)v;
		txn->flags |= UAPI_DEV_LISTEN_PORT;
	} else if (uapi_str_eq(key, klen, "fwmark")) {
		if (uapi_parse_uint(val, vlen, UINT32_MAX, &v))
			return UAPI_ERR_INVALID;
		txn->fwmark = (uint32_t)v;
		txn->flags |= UAPI_DEV_FWMARK;
	} else if (uapi_str_eq(key, klen, "replace_peers")) {
		if (!uapi_str_eq(val, vlen, "true"))
			return UAPI_ERR_INVALID;
		txn->flags |= UAPI_DEV_REPLACE_PEERS;
	} else {
		return UAPI_ERR_INVALID;
	}
	return 0;
}

static int parse_bool_flag(struct uapi_peer_op *op, unsigned int flag,
			   const char *val, size_t vlen)
{
	if (!uapi_str_eq(val, vlen, "true"))
		return UAPI_ERR_INVALID;
	op->flags |= flag;
	return 0;
}

static int parse_peer_line(struct uapi_peer_op *op, const char *key, size_t klen,
			   const char *val, size_t vlen)
{
	struct uapi_prefix prefix;
	uint64_t v;

	if (uapi_str_eq(key, klen, "update_only"))
		return parse_bool_flag(op, UAPI_PEER_UPDATE_ONLY, val, vlen);
	if (uapi_str_eq(key, klen, "remove"))
		return parse_bool_flag(op, UAPI_PEER_REMOVE, val, vlen);
	if (uapi_str_eq(key, klen, "preshared_key")) {
		if (uapi_parse_key(op->preshared_key, val, vlen))
			return UAPI_ERR_INVALID;
		op->flags |= UAPI_PEER_PRESHARED_KEY;
		return 0;
	}
	if (uapi_str_eq(key, klen, "endpoint")) {
		if (uapi_parse_endpoint(&op->endpoint, val, vlen))
			return UAPI_ERR_INVALID;
		op->flags |= UAPI_PEER_ENDPOINT;
		return 0;
	}
	if (uapi_str_eq(key, klen, "persistent_keepalive_interval")) {
		if (uapi_parse_uint(val, vlen, UINT16_MAX, &v))
			return UAPI_ERR_INVALID;
		op->persistent_keepalive_interval = (uint16_t)v;
		op->flags |= UAPI_PEER_KEEPALIVE;
		return 0;
	}
	if (uapi_str_eq(key, klen, "replace_allowed_ips")) {
		if (parse_bool_flag(op, UAPI_PEER_REPLACE_ALLOWED_IPS, val, vlen))
			return UAPI_ERR_INVALID;
		return add_aip(op, UAPI_AIP_CLEAR, NULL);
	}
	if (uapi_str_eq(key, klen, "allowed_ip")) {
		enum uapi_aip_action action = UAPI_AIP_ADD;

		if (vlen && val[0] == '-') {
			action = UAPI_AIP_REMOVE;
			val++;
			vlen--;
		}
		if (uapi_parse_prefix(&prefix, val, vlen))
			return UAPI_ERR_INVALID;
		return add_aip(op, action, &prefix);
	}
	if (uapi_str_eq(key, klen, "protocol_version")) {
		if (!uapi_str_eq(val, vlen, "1"))
			return UAPI_ERR_INVALID;
		op->flags |= UAPI_PEER_PROTOCOL_VERSION;
		return 0;
	}
	return UAPI_ERR_INVALID;
}

static int parse_line(struct uapi_parser *p, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len), *val;
	uint8_t pub[UAPI_KEY_LEN];
	size_t klen, vlen;
	int ret;

	if (!eq)
		return UAPI_ERR_PROTOCOL;
	klen = (size_t)(eq - line);
	val = eq + 1;
	vlen = len - klen - 1;
	/* Every item of the transaction came from a line of its own. */
	if (p->lines > UAPI_MAX_TXN_ITEMS)
		return UAPI_ERR_INVALID;
	if (uapi_str_eq(line, klen, "public_key")) {
		if (uapi_parse_key(pub, val, vlen))
			return UAPI_ERR_INVALID;
		/* Room for a full replacement (removals plus new peers) and
		 * then some; beyond that it is not a configuration. */
		if (p->txn.n_peers >= 4 * (size_t)UAPI_MAX_PEERS)
			return UAPI_ERR_INVALID;
		p->in_peer = true;
		return add_peer(&p->txn, pub);
	}
	if (!p->in_peer)
		return parse_device_line(&p->txn, line, klen, val, vlen);
	ret = parse_peer_line(&p->txn.peers[p->txn.n_peers - 1], line, klen,
			      val, vlen);
	return ret;
}

int uapi_parser_line(struct uapi_parser *p, const char *line, size_t len)
{
	if (p->err)
		return p->err;
	p->lines++;
	if (len && line[len - 1] == '\r')
		len--;
	if (len > UAPI_MAX_LINE - 1) {
		p->err = UAPI_ERR_IO;
		return p->err;
	}
	p->err = parse_line(p, line, len);
	return p->err;
}

int uapi_parse_set(struct uapi_txn *txn, const char *buf, size_t len)
{
	struct uapi_parser p;
	const char *nl;
	size_t n;

	uapi_parser_init(&p);
	while (len) {
		nl = memchr(buf, '\n', len);
		n = nl ? (size_t)(nl - buf) : len;
		if (n == 0 || (n == 1 && buf[0] == '\r'))
			break;
		if (uapi_parser_line(&p, buf, n))
			break;
		buf += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	if (p.err) {
		uapi_txn_clear(&p.txn);
		return p.err;
	}
	*txn = p.txn;
	return 0;
}
