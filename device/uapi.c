// SPDX-License-Identifier: MIT
/*
 * The UAPI protocol: the set=1 parser, the get=1 and stats=1 formatters and
 * the per-connection state machine.  No sockets here (see uapi_server.c),
 * so all of it is unit-testable and fuzzable.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "device/uapi.h"

/* Upper bound on a transaction's size (peer sections plus allowed-IP
 * operations), so a client cannot make us buffer without limit. */
#define UAPI_MAX_TXN_ITEMS (1u << 22)

int uapi_errno(int err)
{
	switch (err) {
	case 0:
	case UAPI_ERR_IO:
	case UAPI_ERR_PROTOCOL:
	case UAPI_ERR_INVALID:
	case UAPI_ERR_PORT_IN_USE:
	case UAPI_ERR_UNKNOWN:
		return err;
	default:
		return UAPI_ERR_UNKNOWN;
	}
}

/* ---- a growable string ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sbuf_reserve(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = true;
		return;
	}
	sbuf_add(b, tmp, (size_t)n);
}

static void sbuf_key(struct sbuf *b, const char *key, const uint8_t k[UAPI_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char line[UAPI_KEY_LEN * 2 + 1];
	size_t i;

	for (i = 0; i < UAPI_KEY_LEN; i++) {
		line[2 * i] = hex[k[i] >> 4];
		line[2 * i + 1] = hex[k[i] & 15];
	}
	line[UAPI_KEY_LEN * 2] = '\n';
	sbuf_add(b, key, strlen(key));
	sbuf_add(b, "=", 1);
	sbuf_add(b, line, sizeof(line));
	sodium_memzero(line, sizeof(line));
}

static void sbuf_wipe(struct sbuf *b)
{
	if (b->p)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- numbers, keys, addresses with Go's rules ---- */

static bool str_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

/* strconv.ParseUint(s, 10, bits): digits only, leading zeros allowed. */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* loadExactHex: exactly 64 hex digits, either case. */
static int parse_key(uint8_t k[UAPI_KEY_LEN], const char *s, size_t len)
{
	size_t i;
	int hi, lo;

	if (len != UAPI_KEY_LEN * 2)
		return -EINVAL;
	for (i = 0; i < UAPI_KEY_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			sodium_memzero(k, UAPI_KEY_LEN);
			return -EINVAL;
		}
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Go's netip.ParseAddr for the part before any zone; zone text separate. */
static int parse_addr(const char *s, size_t len, int *family, uint8_t addr[16],
		      const char **zone, size_t *zone_len)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	const char *pct;

	*zone = NULL;
	*zone_len = 0;
	if (!len)
		return -EINVAL;
	if (memchr(s, ':', len)) {
		pct = memchr(s, '%', len);
		if (pct) {
			*zone = pct + 1;
			*zone_len = len - (size_t)(pct + 1 - s);
			if (!*zone_len)
				return -EINVAL;
			len = (size_t)(pct - s);
		}
		if (len >= sizeof(tmp))
			return -EINVAL;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return -EINVAL;
		*family = AF_INET6;
		return 0;
	}
	if (len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	/* glibc's inet_pton already refuses leading zeros, as Go does. */
	if (inet_pton(AF_INET, tmp, addr) != 1)
		return -EINVAL;
	*family = AF_INET;
	return 0;
}

int uapi_parse_endpoint(struct uapi_endpoint *ep, const char *s, size_t len)
{
	const char *colon = NULL, *ip, *zone;
	size_t i, ip_len, zone_len;
	uint8_t addr[16];
	uint64_t port;
	bool v6 = false;
	int family;

	memset(ep, 0, sizeof(*ep));
	for (i = len; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	}
	if (!colon)
		return -EINVAL;
	ip = s;
	ip_len = (size_t)(colon - s);
	if (!ip_len)
		return -EINVAL;
	if (parse_uint(colon + 1, len - ip_len - 1, 65535, &port))
		return -EINVAL;
	if (ip[0] == '[') {
		if (ip_len < 2 || ip[ip_len - 1] != ']')
			return -EINVAL;
		ip++;
		ip_len -= 2;
		v6 = true;
	}
	if (parse_addr(ip, ip_len, &family, addr, &zone, &zone_len))
		return -EINVAL;
	if (v6 != (family == AF_INET6))
		return -EINVAL;
	if (family == AF_INET) {
		ep->in4.sin_family = AF_INET;
		ep->in4.sin_port = htons((uint16_t)port);
		memcpy(&ep->in4.sin_addr, addr, 4);
		return 0;
	}
	ep->in6.sin6_family = AF_INET6;
	ep->in6.sin6_port = htons((uint16_t)port);
	memcpy(&ep->in6.sin6_addr, addr, 16);
	if (zone) {
		uint64_t id;

		if (zone_len >= sizeof(ep->zone))
			return -EINVAL;
		memcpy(ep->zone, zone, zone_len);
		ep->zone[zone_len] = '\0';
		if (!parse_uint(zone, zone_len, UINT32_MAX, &id))
			ep->in6.sin6_scope_id = (uint32_t)id;
		else
			ep->in6.sin6_scope_id = if_nametoindex(ep->zone);
	}
	return 0;
}

static void mask_prefix(struct uapi_prefix *p)
{
	unsigned int bytes = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < bytes; i++) {
		unsigned int bit = i * 8;

		if (bit >= p->cidr)
			p->addr[i] = 0;
		else if (bit + 8 > p->cidr)
			p->addr[i] &= (uint8_t)(0xff << (8 - (p->cidr - bit)));
	}
	for (; i < 16; i++)
		p->addr[i] = 0;
}

int uapi_parse_prefix(struct uapi_prefix *p, const char *s, size_t len)
{
	const char *slash = NULL, *zone, *bits;
	size_t i, zone_len, bits_len;
	uint64_t cidr;
	int family;

	memset(p, 0, sizeof(*p));
	for (i = len; i > 0; i--) {
		if (s[i - 1] == '/') {
			slash = s + i - 1;
			break;
		}
	}
	if (!slash)
		return -EINVAL;
	if (parse_addr(s, (size_t)(slash - s), &family, p->addr, &zone, &zone_len))
		return -EINVAL;
	if (zone)
		return -EINVAL;
	bits = slash + 1;
	bits_len = len - (size_t)(bits - s);
	/* ParsePrefix refuses signs and leading zeros. */
	if (bits_len > 1 && (bits[0] < '1' || bits[0] > '9'))
		return -EINVAL;
	if (parse_uint(bits, bits_len, family == AF_INET ? 32 : 128, &cidr))
		return -EINVAL;
	p->family = (uint8_t)family;
	p->cidr = (uint8_t)cidr;
	mask_prefix(p);
	return 0;
}

bool uapi_prefix_equal(const struct uapi_prefix *a, const struct uapi_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       !memcmp(a->addr, b->addr, 16);
}

/* Go's Addr.String(): RFC 5952, and "::ffff:a.b.c.d" for v4-mapped. */
static int format_addr(char *buf, int family, const uint8_t *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	int zs = -1, ze = -1, i, j, n = 0;
	uint16_t w[8];

	if (family == AF_INET)
		return sprintf(buf, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	if (!memcmp(a, mapped, sizeof(mapped)))
		return sprintf(buf, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
	for (i = 0; i < 8; i++)
		w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	for (i = 0; i < 8; i++) {
		for (j = i; j < 8 && !w[j]; j++)
			;
		if (j - i >= 2 && j - i > ze - zs) {
			zs = i;
			ze = j;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == zs) {
			n += sprintf(buf + n, "::");
			i = ze;
			if (i >= 8)
				break;
		} else if (i > 0) {
			n += sprintf(buf + n, ":");
		}
		n += sprintf(buf + n, "%x", w[i]);
	}
	return n;
}

int uapi_format_endpoint(char *buf, const struct uapi_endpoint *ep)
{
	int n;

	if (ep->sa.sa_family == AF_INET) {
		n = format_addr(buf, AF_INET, (const uint8_t *)&ep->in4.sin_addr);
		return n + sprintf(buf + n, ":%u", ntohs(ep->in4.sin_port));
	}
	/* wireguard-go prints the address without its zone. */
	buf[0] = '[';
	n = 1 + format_addr(buf + 1, AF_INET6, ep->in6.sin6_addr.s6_addr);
	return n + sprintf(buf + n, "]:%u", ntohs(ep->in6.sin6_port));
}

int uapi_format_prefix(char *buf, const struct uapi_prefix *p)
{
	int n = format_addr(buf, p->family, p->addr);

	return n + sprintf(buf + n, "/%u", p->cidr);
}

/* ---- set=1 ---- */

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

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Peer sections are allocated by realloc, so moving them must not leave a
 * preshared key behind in freed memory: copy by hand and wipe the old. */
static int add_peer(struct uapi_txn *txn, const uint8_t key[UAPI_KEY_LEN])
{
	struct uapi_peer_op *np, *op;
	size_t ncap;

	if (txn->n_peers == txn->cap_peers) {
		ncap = txn->cap_peers ? txn->cap_peers * 2 : 4;
		np = calloc(ncap, sizeof(*np));
		if (!np)
			return UAPI_ERR_UNKNOWN;
		if (txn->peers) {
			memcpy(np, txn->peers, txn->n_peers * sizeof(*np));
			sodium_memzero(txn->peers, txn->cap_peers * sizeof(*np));
			free(txn->peers);
		}
		txn->peers = np;
		txn->cap_peers = ncap;
	}
	op = &txn->peers[txn->n_peers++];
	memset(op, 0, sizeof(*op));
	memcpy(op->public_key, key, UAPI_KEY_LEN);
	return 0;
}

static int add_aip(struct uapi_peer_op *op, enum uapi_aip_action action,
		   const struct uapi_prefix *prefix)
{
	struct uapi_aip_op *a;

	if (grow((void **)&op->aips, &op->cap_aips, op->n_aips, sizeof(*op->aips)))
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

	if (str_eq(key, klen, "private_key")) {
		if (parse_key(txn->private_key, val, vlen))
			return UAPI_ERR_INVALID;
		clamp_key(txn->private_key);
		txn->flags |= UAPI_DEV_PRIVATE_KEY;
	} else if (str_eq(key, klen, "listen_port")) {
		if (parse_uint(val, vlen, UINT16_MAX, &v))
			return UAPI_ERR_INVALID;
		txn->listen_port = (uint16_t)v;
		txn->flags |= UAPI_DEV_LISTEN_PORT;
	} else if (str_eq(key, klen, "fwmark")) {
		if (parse_uint(val, vlen, UINT32_MAX, &v))
			return UAPI_ERR_INVALID;
		txn->fwmark = (uint32_t)v;
		txn->flags |= UAPI_DEV_FWMARK;
	} else if (str_eq(key, klen, "replace_peers")) {
		if (!str_eq(val, vlen, "true"))
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
	if (!str_eq(val, vlen, "true"))
		return UAPI_ERR_INVALID;
	op->flags |= flag;
	return 0;
}

static int parse_peer_line(struct uapi_peer_op *op, const char *key, size_t klen,
			   const char *val, size_t vlen)
{
	struct uapi_prefix prefix;
	uint64_t v;

	if (str_eq(key, klen, "update_only"))
		return parse_bool_flag(op, UAPI_PEER_UPDATE_ONLY, val, vlen);
	if (str_eq(key, klen, "remove"))
		return parse_bool_flag(op, UAPI_PEER_REMOVE, val, vlen);
	if (str_eq(key, klen, "preshared_key")) {
		if (parse_key(op->preshared_key, val, vlen))
			return UAPI_ERR_INVALID;
		op->flags |= UAPI_PEER_PRESHARED_KEY;
		return 0;
	}
	if (str_eq(key, klen, "endpoint")) {
		if (uapi_parse_endpoint(&op->endpoint, val, vlen))
			return UAPI_ERR_INVALID;
		op->flags |= UAPI_PEER_ENDPOINT;
		return 0;
	}
	if (str_eq(key, klen, "persistent_keepalive_interval")) {
		if (parse_uint(val, vlen, UINT16_MAX, &v))
			return UAPI_ERR_INVALID;
		op->persistent_keepalive_interval = (uint16_t)v;
		op->flags |= UAPI_PEER_KEEPALIVE;
		return 0;
	}
	if (str_eq(key, klen, "replace_allowed_ips")) {
		if (parse_bool_flag(op, UAPI_PEER_REPLACE_ALLOWED_IPS, val, vlen))
			return UAPI_ERR_INVALID;
		return add_aip(op, UAPI_AIP_CLEAR, NULL);
	}
	if (str_eq(key, klen, "allowed_ip")) {
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
	if (str_eq(key, klen, "protocol_version")) {
		if (!str_eq(val, vlen, "1"))
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
	if (str_eq(line, klen, "public_key")) {
		if (parse_key(pub, val, vlen))
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

/* ---- get=1 ---- */

struct uapi_peer_info *uapi_snapshot_add_peer(struct uapi_snapshot *s)
{
	struct uapi_peer_info *p;

	if (grow((void **)&s->peers, &s->cap_peers, s->n_peers, sizeof(*s->peers)))
		return NULL;
	p = &s->peers[s->n_peers++];
	memset(p, 0, sizeof(*p));
	return p;
}

int uapi_peer_info_add_aip(struct uapi_peer_info *p, const struct uapi_prefix *prefix)
{
	if (grow((void **)&p->aips, &p->cap_aips, p->n_aips, sizeof(*p->aips)))
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
	struct sbuf b = { 0 };
	size_t i, j;

	if (!sodium_is_zero(s->private_key, UAPI_KEY_LEN))
		sbuf_key(&b, "private_key", s->private_key);
	if (s->listen_port)
		sbuf_printf(&b, "listen_port=%u\n", s->listen_port);
	if (s->fwmark)
		sbuf_printf(&b, "fwmark=%u\n", s->fwmark);
	for (i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_info *p = &s->peers[i];

		sbuf_key(&b, "public_key", p->public_key);
		sbuf_key(&b, "preshared_key", p->preshared_key);
		sbuf_printf(&b, "protocol_version=1\n");
		if (p->has_endpoint) {
			uapi_format_endpoint(addr, &p->endpoint);
			sbuf_printf(&b, "endpoint=%s\n", addr);
		}
		sbuf_printf(&b, "last_handshake_time_sec=%" PRId64 "\n",
			    p->last_handshake_sec);
		sbuf_printf(&b, "last_handshake_time_nsec=%" PRId64 "\n",
			    p->last_handshake_nsec);
		sbuf_printf(&b, "tx_bytes=%" PRIu64 "\n", p->tx_bytes);
		sbuf_printf(&b, "rx_bytes=%" PRIu64 "\n", p->rx_bytes);
		sbuf_printf(&b, "persistent_keepalive_interval=%u\n",
			    p->persistent_keepalive_interval);
		for (j = 0; j < p->n_aips; j++) {
			uapi_format_prefix(addr, &p->aips[j]);
			sbuf_printf(&b, "allowed_ip=%s\n", addr);
		}
	}
	if (!sbuf_reserve(&b, 0)) {
		sbuf_wipe(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- stats=1 ---- */

struct uapi_emitter {
	struct sbuf b;
};

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
	sbuf_printf(&em->b, "%s=%" PRIu64 "\n", key, v);
	return em->b.oom ? -ENOMEM : 0;
}

int uapi_emit_str(struct uapi_emitter *em, const char *key, const char *v)
{
	if (!clean(key) || strchr(v, '\n'))
		return -EINVAL;
	sbuf_add(&em->b, key, strlen(key));
	sbuf_add(&em->b, "=", 1);
	sbuf_add(&em->b, v, strlen(v));
	sbuf_add(&em->b, "\n", 1);
	return em->b.oom ? -ENOMEM : 0;
}

int uapi_emit_key(struct uapi_emitter *em, const char *key, const uint8_t k[UAPI_KEY_LEN])
{
	if (!clean(key))
		return -EINVAL;
	sbuf_key(&em->b, key, k);
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

/* ---- one connection ---- */

void uapi_conn_init(struct uapi_conn *c, const struct uapi_ops *ops, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
	c->state = UAPI_ST_OP;
}

void uapi_conn_free(struct uapi_conn *c)
{
	uapi_txn_clear(&c->parser.txn);
	if (c->in)
		sodium_memzero(c->in, c->in_cap);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
}

bool uapi_conn_done(const struct uapi_conn *c)
{
	return c->state == UAPI_ST_CLOSE;
}

static int out_add(struct uapi_conn *c, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (!n)
		return 0;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		cap = c->out_cap ? c->out_cap : 512;
		while (cap < c->out_len + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

static int reply_status(struct uapi_conn *c, int err)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "errno=%d\n\n", uapi_errno(err));

	return out_add(c, line, (size_t)n);
}

static int run_get(struct uapi_conn *c)
{
	struct uapi_snapshot snap;
	char *text;
	size_t len = 0;
	int ret;

	memset(&snap, 0, sizeof(snap));
	ret = c->ops->get ? c->ops->get(c->ctx, &snap) : -EINVAL;
	if (ret) {
		uapi_snapshot_clear(&snap);
		return reply_status(c, ret);
	}
	text = uapi_format_get(&snap, &len);
	uapi_snapshot_clear(&snap);
	if (!text)
		return reply_status(c, UAPI_ERR_UNKNOWN);
	ret = out_add(c, text, len);
	sodium_memzero(text, len);
	free(text);
	return ret ? ret : reply_status(c, 0);
}

static int run_stats(struct uapi_conn *c)
{
	struct uapi_emitter em;
	int ret;

	memset(&em, 0, sizeof(em));
	if (!c->ops->stats)
		return reply_status(c, UAPI_ERR_INVALID);
	ret = c->ops->stats(c->ctx, &em);
	if (!ret && em.b.oom)
		ret = -ENOMEM;
	if (!ret && em.b.len)
		ret = out_add(c, em.b.p, em.b.len);
	sbuf_wipe(&em.b);
	return reply_status(c, ret);
}

static int run_set(struct uapi_conn *c)
{
	int ret = c->parser.err;

	if (!ret)
		ret = c->ops->set ? c->ops->set(c->ctx, &c->parser.txn) : -EINVAL;
	uapi_txn_clear(&c->parser.txn);
	uapi_parser_init(&c->parser);
	return reply_status(c, ret);
}

/* The first line of an operation: anything unknown closes the
 * connection, as IpcHandle does. */
static int step_op(struct uapi_conn *c, size_t *pos)
{
	const char *s = c->in + *pos, *nl;
	size_t avail = c->in_len - *pos;

	nl = memchr(s, '\n', avail);
	if (!nl) {
		/* "stats=1\n" is the longest valid operation line. */
		if (c->eof || avail > 8)
			c->state = UAPI_ST_CLOSE;
		return 1;
	}
	*pos += (size_t)(nl - s) + 1;
	if (str_eq(s, (size_t)(nl - s), "get=1")) {
		c->state = UAPI_ST_GET;
		c->op = 'g';
	} else if (str_eq(s, (size_t)(nl - s), "stats=1")) {
		c->state = UAPI_ST_GET;
		c->op = 's';
	} else if (str_eq(s, (size_t)(nl - s), "set=1")) {
		c->state = UAPI_ST_SET;
		uapi_parser_init(&c->parser);
	} else {
		c->state = UAPI_ST_CLOSE;
	}
	return 0;
}

static int step_get(struct uapi_conn *c, size_t *pos, int *ret)
{
	char b;

	if (*pos == c->in_len) {
		if (c->eof)
			c->state = UAPI_ST_CLOSE;
		return 1;
	}
	b = c->in[(*pos)++];
	c->state = UAPI_ST_OP;
	if (b != '\n')
		*ret = reply_status(c, UAPI_ERR_INVALID);
	else
		*ret = c->op == 's' ? run_stats(c) : run_get(c);
	return 0;
}

static int step_set(struct uapi_conn *c, size_t *pos, int *ret)
{
	const char *s = c->in + *pos, *nl;
	size_t avail = c->in_len - *pos, n;

	nl = memchr(s, '\n', avail);
	if (!nl) {
		if (avail >= UAPI_MAX_LINE) {
			/* bufio.Scanner's ErrTooLong: reply, then give up on
			 * the connection, which cannot be resynchronised. */
			c->parser.err = UAPI_ERR_IO;
			*ret = run_set(c);
			c->state = UAPI_ST_CLOSE;
			return 1;
		}
		if (!c->eof)
			return 1;
		/* At EOF the scanner hands over a last unterminated line and
		 * the operation ends as if a blank line had followed. */
		if (avail && !(avail == 1 && s[0] == '\r'))
			uapi_parser_line(&c->parser, s, avail);
		*pos += avail;
		*ret = run_set(c);
		c->state = UAPI_ST_CLOSE;
		return 1;
	}
	n = (size_t)(nl - s);
	*pos += n + 1;
	if (n == 0 || (n == 1 && s[0] == '\r')) {
		c->state = UAPI_ST_OP;
		*ret = run_set(c);
		return 0;
	}
	uapi_parser_line(&c->parser, s, n);
	return 0;
}

static int conn_run(struct uapi_conn *c)
{
	size_t pos = 0;
	int ret = 0, wait = 0;

	while (!wait && !ret && c->state != UAPI_ST_CLOSE) {
		switch (c->state) {
		case UAPI_ST_OP:
			wait = step_op(c, &pos);
			break;
		case UAPI_ST_GET:
			wait = step_get(c, &pos, &ret);
			break;
		case UAPI_ST_SET:
			wait = step_set(c, &pos, &ret);
			break;
		case UAPI_ST_CLOSE:
			break;
		}
	}
	if (c->state == UAPI_ST_CLOSE)
		pos = c->in_len;
	if (pos) {
		sodium_memzero(c->in, pos);
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
	}
	return ret;
}

int uapi_conn_input(struct uapi_conn *c, const void *data, size_t len, bool eof)
{
	size_t cap;
	char *p;

	if (c->state == UAPI_ST_CLOSE)
		return 0;
	if (!c->in || c->in_len + len > c->in_cap) {
		cap = c->in_cap ? c->in_cap : 4096;
		while (cap < c->in_len + len)
			cap *= 2;
		p = malloc(cap);
		if (!p)
			return -ENOMEM;
		if (c->in) {
			memcpy(p, c->in, c->in_len);
			sodium_memzero(c->in, c->in_cap);
			free(c->in);
		}
		c->in = p;
		c->in_cap = cap;
	}
	if (len)
		memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	c->eof = c->eof || eof;
	return conn_run(c);
}
