/* SPDX-License-Identifier: MIT */
/*
 * Values in the UAPI's text form, with Go's rules: numbers, keys, endpoints
 * and allowed-IP prefixes, parsed and formatted; and the growable string
 * the replies are written into.  Keys go through libsodium's constant-time
 * hex codec, and memory that may hold one is wiped before it is freed.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "device/uapi.h"
#include "device/uapi_impl.h"

/* ---- memory ---- */

void *uapi_realloc_wipe(void *old, size_t old_size, size_t used, size_t new_size)
{
	void *p = malloc(new_size);

	if (!p)
		return NULL;
	if (old) {
		memcpy(p, old, used);
		sodium_memzero(old, old_size);
		free(old);
	}
	return p;
}

int uapi_grow(void **arr, size_t *cap, size_t n, size_t size)
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

int uapi_grow_secret(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = uapi_realloc_wipe(*arr, *cap * size, n * size, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- a growable string ---- */

bool uapi_sbuf_reserve(struct uapi_sbuf *b, size_t more)
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
	/* get=1 replies carry the private key. */
	p = uapi_realloc_wipe(b->p, b->cap, b->len, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	p[b->len] = '\0';
	b->p = p;
	b->cap = cap;
	return true;
}

void uapi_sbuf_add(struct uapi_sbuf *b, const char *s, size_t n)
{
	if (!uapi_sbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void uapi_sbuf_printf(struct uapi_sbuf *b, const char *fmt, ...)
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
	uapi_sbuf_add(b, tmp, (size_t)n);
}

void uapi_sbuf_key(struct uapi_sbuf *b, const char *key, const uint8_t k[UAPI_KEY_LEN])
{
	/* The hex digits, '\n', and the NUL sodium_bin2hex always writes. */
	char line[UAPI_KEY_LEN * 2 + 2];

	sodium_bin2hex(line, UAPI_KEY_LEN * 2 + 1, k, UAPI_KEY_LEN);
	line[UAPI_KEY_LEN * 2] = '\n';
	uapi_sbuf_add(b, key, strlen(key));
	uapi_sbuf_add(b, "=", 1);
	uapi_sbuf_add(b, line, UAPI_KEY_LEN * 2 + 1);
	sodium_memzero(line, sizeof(line));
}

void uapi_sbuf_wipe(struct uapi_sbuf *b)
{
	if (b->p)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- numbers, keys, addresses with Go's rules ---- */

int uapi_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
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

int uapi_parse_key(uint8_t k[UAPI_KEY_LEN], const char *s, size_t len)
{
	size_t n = 0;

	if (len != UAPI_KEY_LEN * 2)
		return -EINVAL;
	/* Either case, as Go's hex decoding.  n guards against libsodium
	 * versions that stop at a non-hex character without failing. */
	if (sodium_hex2bin(k, UAPI_KEY_LEN, s, len, NULL, &n, NULL) ||
	    n != UAPI_KEY_LEN) {
		sodium_memzero(k, UAPI_KEY_LEN);
		return -EINVAL;
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

int uapi_parse_endpoint(struct vg_endpoint *ep, const char *s, size_t len)
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
	if (uapi_parse_uint(colon + 1, len - ip_len - 1, 65535, &port))
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
		ep->dst.in4.sin_family = AF_INET;
		ep->dst.in4.sin_port = htons((uint16_t)port);
		memcpy(&ep->dst.in4.sin_addr, addr, 4);
		return 0;
	}
	ep->dst.in6.sin6_family = AF_INET6;
	ep->dst.in6.sin6_port = htons((uint16_t)port);
	memcpy(&ep->dst.in6.sin6_addr, addr, 16);
	if (zone) {
		char name[IF_NAMESIZE];
		uint64_t id;

		if (zone_len >= sizeof(name))
			return -EINVAL;
		memcpy(name, zone, zone_len);
		name[zone_len] = '\0';
		ep->zone_numeric = !uapi_parse_uint(zone, zone_len, UINT32_MAX, &id);
		if (ep->zone_numeric)
			ep->dst.in6.sin6_scope_id = (uint32_t)id;
		else
			ep->dst.in6.sin6_scope_id = if_nametoindex(name);
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
	if (uapi_parse_uint(bits, bits_len, family == AF_INET ? 32 : 128, &cidr))
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

/*
 * Go's "%zone", so that a link-local endpoint survives get then set
 * (wg showconf | wg setconf): a zone configured as a number is printed
 * as that number, any other as the interface's name in the daemon's
 * namespace (wireguard-go's names for the zones of received packets),
 * or as the number when no interface has that index.
 */
static int format_zone(char *buf, const struct vg_endpoint *ep)
{
	char name[IF_NAMESIZE];
	uint32_t id = ep->dst.in6.sin6_scope_id;

	if (ep->zone_numeric)
		return sprintf(buf, "%%%u", id);
	if (!id)
		return 0;
	if (if_indextoname(id, name))
		return sprintf(buf, "%%%s", name);
	return sprintf(buf, "%%%u", id);
}

int uapi_format_endpoint(char *buf, const struct vg_endpoint *ep)
{
	int n;

	if (ep->dst.sa.sa_family == AF_INET) {
		n = format_addr(buf, AF_INET, (const uint8_t *)&ep->dst.in4.sin_addr);
		return n + sprintf(buf + n, ":%u", ntohs(ep->dst.in4.sin_port));
	}
	buf[0] = '[';
	n = 1 + format_addr(buf + 1, AF_INET6, ep->dst.in6.sin6_addr.s6_addr);
	n += format_zone(buf + n, ep);
	return n + sprintf(buf + n, "]:%u", ntohs(ep->dst.in6.sin6_port));
}

int uapi_format_prefix(char *buf, const struct uapi_prefix *p)
{
	int n = format_addr(buf, p->family, p->addr);

	return n + sprintf(buf + n, "/%u", p->cidr);
}
