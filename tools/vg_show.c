// SPDX-License-Identifier: MIT
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "tools/vg_show.h"

#define C_RESET "\x1b[0m"
#define C_BOLD "\x1b[1m"
#define C_RED "\x1b[31m"
#define C_GREEN "\x1b[32m"
#define C_YELLOW "\x1b[33m"
#define C_CYAN "\x1b[36m"

/* Picks the escape sequence or nothing. */
#define C(o, seq) ((o) ? (seq) : "")

void vg_show_opts_from_env(struct vg_show_opts *o, FILE *out)
{
	const char *mode = getenv("WG_COLOR_MODE");
	const char *hide = getenv("WG_HIDE_KEYS");

	if (mode && !strcmp(mode, "always"))
		o->color = true;
	else if (mode && !strcmp(mode, "never"))
		o->color = false;
	else
		o->color = isatty(fileno(out));
	o->show_keys = hide && !strcmp(hide, "never");
	o->now = time(NULL);
}

size_t vg_format_duration(char *buf, size_t len, unsigned long long left, bool color)
{
	static const struct {
		const char *name;
		unsigned long long secs;
	} units[] = {
		{ "year", 365ULL * 24 * 60 * 60 },
		{ "day", 24 * 60 * 60 },
		{ "hour", 60 * 60 },
		{ "minute", 60 },
		{ "second", 1 },
	};
	unsigned long long n;
	size_t off = 0, i;
	int w;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
		n = left / units[i].secs;
		left %= units[i].secs;
		if (!n || off >= len)
			continue;
		w = snprintf(buf + off, len - off, "%s%llu %s%s%s%s", off ? ", " : "", n,
			     C(color, C_CYAN), units[i].name, n == 1 ? "" : "s",
			     C(color, C_RESET));
		if (w > 0)
			off += (size_t)w;
	}
	return off < len ? off : (len ? len - 1 : 0);
}

void vg_format_bytes(char *buf, size_t len, uint64_t b, bool color)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	unsigned int u = 0;

	if (b < 1024) {
		snprintf(buf, len, "%u %sB%s", (unsigned int)b, C(color, C_CYAN), C(color, C_RESET));
		return;
	}
	/* Each unit covers values below 1024 of itself; TiB takes the rest. */
	v /= 1024;
	while (u < 3 && b >= (1ULL << (10 * (u + 2)))) {
		v /= 1024;
		++u;
	}
	snprintf(buf, len, "%.2f %s%s%s", v, C(color, C_CYAN), units[u], C(color, C_RESET));
}

void vg_format_ago(char *buf, size_t len, int64_t then, time_t now, bool color)
{
	size_t off;

	if (now == then) {
		snprintf(buf, len, "Now");
	} else if (now < then) {
		snprintf(buf, len, "(%sSystem clock wound backward; connection problems may ensue.%s)",
			 C(color, C_RED), C(color, C_RESET));
	} else {
		off = vg_format_duration(buf, len, (unsigned long long)(now - then), color);
		snprintf(buf + off, len - off, " ago");
	}
}

static const char *b64(char buf[VG_KEY_B64_SIZE], const uint8_t key[VG_KEY_LEN])
{
	vg_key_to_base64(buf, key);
	return buf;
}

static const char *maybe_key(char buf[VG_KEY_B64_SIZE], const uint8_t key[VG_KEY_LEN], bool have)
{
	return have ? b64(buf, key) : "(none)";
}

static const char *ip_str(char buf[INET6_ADDRSTRLEN], const struct vg_allowedip *a)
{
	memset(buf, 0, INET6_ADDRSTRLEN);
	if (a->family == AF_INET)
		inet_ntop(AF_INET, &a->ip4, buf, INET6_ADDRSTRLEN);
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, &a->ip6, buf, INET6_ADDRSTRLEN);
	return buf;
}

/* The endpoint, or the resolver's message in its place (as wg prints). */
static const char *endpoint_str(char buf[VG_HOSTPORT_SIZE], const union vg_sockaddr *ep)
{
	vg_hostport_format(buf, ep);
	return buf;
}

static bool handshake_zero(const struct vg_peer *p)
{
	return !p->handshake_sec && !p->handshake_nsec;
}

static int peer_cmp(const void *x, const void *y)
{
	const struct vg_peer *a = *(struct vg_peer *const *)x, *b = *(struct vg_peer *const *)y;
	int64_t diff;

	if (handshake_zero(a) && !handshake_zero(b))
		return 1;
	if (handshake_zero(b) && !handshake_zero(a))
		return -1;
	diff = a->handshake_sec - b->handshake_sec;
	if (!diff)
		diff = a->handshake_nsec - b->handshake_nsec;
	return diff < 0 ? 1 : diff > 0 ? -1 : 0;
}

static void sort_peers(struct vg_device *dev)
{
	struct vg_peer *p, **v;
	size_t n = 0, i = 0;

	vg_for_each_peer(dev, p)
		++n;
	if (!n)
		return;
	v = calloc(n, sizeof(*v));
	if (!v)
		return;
	vg_for_each_peer(dev, p)
		v[i++] = p;
	qsort(v, n, sizeof(*v), peer_cmp);
	dev->first_peer = v[0];
	for (i = 1; i < n; ++i)
		v[i - 1]->next = v[i];
	v[n - 1]->next = NULL;
	dev->last_peer = v[n - 1];
	free(v);
}

/* Drops every "ESC [ ... letter" run that starts before the last two
 * bytes, as wg's colour filter does; returns the length left. */
static size_t ansi_strip(char *s, size_t len)
{
	size_t i = 0, o = 0;
	char ch;

	while (i < len) {
		if (i + 2 < len && s[i] == '\x1b' && s[i + 1] == '[') {
			for (i += 2; i < len; ++i) {
				ch = s[i];
				if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
					break;
			}
			++i;
			continue;
		}
		s[o++] = s[i++];
	}
	return o;
}

/*
 * With colours off, wg formats each pretty line with its escape sequences
 * and strips them afterwards, so a sequence inside the interface name (the
 * kernel allows ESC in one) is stripped too, together with whatever it
 * swallows up to the next letter.  The name is the only free text of the
 * pretty form, so its line alone takes that route.
 */
static void pretty_interface_line(FILE *out, const char *name, bool color)
{
	char line[IFNAMSIZ + 64];
	int n;

	n = snprintf(line, sizeof(line),
		     C_GREEN C_BOLD "interface" C_RESET ": " C_GREEN "%s" C_RESET "\n", name);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	fwrite(line, 1, color ? (size_t)n : ansi_strip(line, (size_t)n), out);
}

static void pretty_device(FILE *out, const struct vg_device *dev, const struct vg_show_opts *o)
{
	bool c = o->color;
	char k[VG_KEY_B64_SIZE];

	fprintf(out, "%s", C(c, C_RESET));
	pretty_interface_line(out, dev->name, c);
	if (dev->flags & VG_DEV_HAS_PUBLIC_KEY)
		fprintf(out, "  %spublic key%s: %s\n", C(c, C_BOLD), C(c, C_RESET),
			b64(k, dev->public_key));
	if (dev->flags & VG_DEV_HAS_PRIVATE_KEY)
		fprintf(out, "  %sprivate key%s: %s\n", C(c, C_BOLD), C(c, C_RESET),
			o->show_keys ? b64(k, dev->private_key) : "(hidden)");
	if (dev->listen_port)
		fprintf(out, "  %slistening port%s: %u\n", C(c, C_BOLD), C(c, C_RESET),
			dev->listen_port);
	if (dev->fwmark)
		fprintf(out, "  %sfwmark%s: 0x%x\n", C(c, C_BOLD), C(c, C_RESET), dev->fwmark);
	sodium_memzero(k, sizeof(k));
}

static void pretty_allowedips(FILE *out, const struct vg_peer *p, bool c)
{
	const struct vg_allowedip *a;
	char ip[INET6_ADDRSTRLEN];

	fprintf(out, "  %sallowed ips%s: ", C(c, C_BOLD), C(c, C_RESET));
	if (!p->first_allowedip) {
		fprintf(out, "(none)\n");
		return;
	}
	vg_for_each_allowedip(p, a)
		fprintf(out, "%s%s/%s%u%s", ip_str(ip, a), C(c, C_CYAN), C(c, C_RESET), a->cidr,
			a->next ? ", " : "\n");
}

static void pretty_peer(FILE *out, const struct vg_peer *p, const struct vg_show_opts *o)
{
	char k[VG_KEY_B64_SIZE], buf[1024], buf2[1024], ep[VG_HOSTPORT_SIZE];
	bool c = o->color;

	fprintf(out, "%s%speer%s: %s%s%s\n", C(c, C_YELLOW), C(c, C_BOLD), C(c, C_RESET),
		C(c, C_YELLOW), b64(k, p->public_key), C(c, C_RESET));
	if (p->flags & VG_PEER_HAS_PRESHARED_KEY)
		fprintf(out, "  %spreshared key%s: %s\n", C(c, C_BOLD), C(c, C_RESET),
			o->show_keys ? b64(k, p->preshared_key) : "(hidden)");
	if (vg_peer_has_endpoint(p))
		fprintf(out, "  %sendpoint%s: %s\n", C(c, C_BOLD), C(c, C_RESET),
			endpoint_str(ep, &p->endpoint));
	pretty_allowedips(out, p, c);
	if (p->handshake_sec) {
		vg_format_ago(buf, sizeof(buf), p->handshake_sec, o->now, c);
		fprintf(out, "  %slatest handshake%s: %s\n", C(c, C_BOLD), C(c, C_RESET), buf);
	}
	if (p->rx_bytes || p->tx_bytes) {
		vg_format_bytes(buf, sizeof(buf), p->rx_bytes, c);
		vg_format_bytes(buf2, sizeof(buf2), p->tx_bytes, c);
		fprintf(out, "  %stransfer%s: %s received, %s sent\n", C(c, C_BOLD), C(c, C_RESET),
			buf, buf2);
	}
	if (p->keepalive) {
		vg_format_duration(buf, sizeof(buf), p->keepalive, c);
		fprintf(out, "  %spersistent keepalive%s: every %s\n", C(c, C_BOLD), C(c, C_RESET),
			buf);
	}
	sodium_memzero(k, sizeof(k));
}

void vg_show_pretty(FILE *out, struct vg_device *dev, const struct vg_show_opts *o)
{
	const struct vg_peer *p;

	pretty_device(out, dev, o);
	if (dev->first_peer) {
		sort_peers(dev);
		fprintf(out, "\n");
	}
	vg_for_each_peer(dev, p) {
		pretty_peer(out, p, o);
		if (p->next)
			fprintf(out, "\n");
	}
}

static void allowedips_list(FILE *out, const struct vg_peer *p, char sep, char end)
{
	const struct vg_allowedip *a;
	char ip[INET6_ADDRSTRLEN];

	if (!p->first_allowedip) {
		fprintf(out, "(none)%c", end);
		return;
	}
	vg_for_each_allowedip(p, a)
		fprintf(out, "%s/%u%c", ip_str(ip, a), a->cidr, a->next ? sep : end);
}

static void fwmark_line(FILE *out, uint32_t fwmark)
{
	if (fwmark)
		fprintf(out, "0x%x\n", fwmark);
	else
		fprintf(out, "off\n");
}

void vg_show_dump(FILE *out, const struct vg_device *dev, bool with_iface)
{
	char k[VG_KEY_B64_SIZE], ep[VG_HOSTPORT_SIZE];
	const struct vg_peer *p;

	if (with_iface)
		fprintf(out, "%s\t", dev->name);
	fprintf(out, "%s\t", maybe_key(k, dev->private_key, dev->flags & VG_DEV_HAS_PRIVATE_KEY));
	fprintf(out, "%s\t", maybe_key(k, dev->public_key, dev->flags & VG_DEV_HAS_PUBLIC_KEY));
	fprintf(out, "%u\t", dev->listen_port);
	fwmark_line(out, dev->fwmark);
	vg_for_each_peer(dev, p) {
		if (with_iface)
			fprintf(out, "%s\t", dev->name);
		fprintf(out, "%s\t", b64(k, p->public_key));
		fprintf(out, "%s\t", maybe_key(k, p->preshared_key,
						 p->flags & VG_PEER_HAS_PRESHARED_KEY));
		fprintf(out, "%s\t", vg_peer_has_endpoint(p) ? endpoint_str(ep, &p->endpoint) : "(none)");
		allowedips_list(out, p, ',', '\t');
		fprintf(out, "%llu\t", (unsigned long long)p->handshake_sec);
		fprintf(out, "%" PRIu64 "\t%" PRIu64 "\t", p->rx_bytes, p->tx_bytes);
		if (p->keepalive)
			fprintf(out, "%u\n", p->keepalive);
		else
			fprintf(out, "off\n");
	}
	sodium_memzero(k, sizeof(k));
}

static bool device_field(FILE *out, const struct vg_device *dev, const char *field,
			 bool with_iface)
{
	char k[VG_KEY_B64_SIZE];
	const char *prefix = with_iface ? dev->name : NULL;

	if (strcmp(field, "public-key") && strcmp(field, "private-key") &&
	    strcmp(field, "listen-port") && strcmp(field, "fwmark"))
		return false;
	if (prefix)
		fprintf(out, "%s\t", prefix);
	if (!strcmp(field, "public-key"))
		fprintf(out, "%s\n", maybe_key(k, dev->public_key, dev->flags & VG_DEV_HAS_PUBLIC_KEY));
	else if (!strcmp(field, "private-key"))
		fprintf(out, "%s\n", maybe_key(k, dev->private_key, dev->flags & VG_DEV_HAS_PRIVATE_KEY));
	else if (!strcmp(field, "listen-port"))
		fprintf(out, "%u\n", dev->listen_port);
	else
		fwmark_line(out, dev->fwmark);
	sodium_memzero(k, sizeof(k));
	return true;
}

static void peer_field(FILE *out, const struct vg_peer *p, const char *field)
{
	char k[VG_KEY_B64_SIZE], ep[VG_HOSTPORT_SIZE];

	fprintf(out, "%s", b64(k, p->public_key));
	if (!strcmp(field, "endpoints"))
		fprintf(out, "\t%s\n", vg_peer_has_endpoint(p) ? endpoint_str(ep, &p->endpoint) : "(none)");
	else if (!strcmp(field, "allowed-ips")) {
		fprintf(out, "\t");
		allowedips_list(out, p, ' ', '\n');
	} else if (!strcmp(field, "latest-handshakes"))
		fprintf(out, "\t%llu\n", (unsigned long long)p->handshake_sec);
	else if (!strcmp(field, "transfer"))
		fprintf(out, "\t%" PRIu64 "\t%" PRIu64 "\n", p->rx_bytes, p->tx_bytes);
	else if (!strcmp(field, "persistent-keepalive")) {
		if (p->keepalive)
			fprintf(out, "\t%u\n", p->keepalive);
		else
			fprintf(out, "\toff\n");
	} else if (!strcmp(field, "preshared-keys"))
		fprintf(out, "\t%s\n", maybe_key(k, p->preshared_key,
						   p->flags & VG_PEER_HAS_PRESHARED_KEY));
	else
		fprintf(out, "\n");
	sodium_memzero(k, sizeof(k));
}

bool vg_show_field(FILE *out, const struct vg_device *dev, const char *field, bool with_iface)
{
	static const char *const per_peer[] = {
		"endpoints", "allowed-ips", "latest-handshakes", "transfer",
		"persistent-keepalive", "preshared-keys", "peers",
	};
	const struct vg_peer *p;
	size_t i;

	if (device_field(out, dev, field, with_iface))
		return true;
	if (!strcmp(field, "dump")) {
		vg_show_dump(out, dev, with_iface);
		return true;
	}
	for (i = 0; i < sizeof(per_peer) / sizeof(per_peer[0]); ++i) {
		if (strcmp(field, per_peer[i]))
			continue;
		vg_for_each_peer(dev, p) {
			if (with_iface)
				fprintf(out, "%s\t", dev->name);
			peer_field(out, p, field);
		}
		return true;
	}
	return false;
}

void vg_showconf(FILE *out, const struct vg_device *dev)
{
	char k[VG_KEY_B64_SIZE], ep[VG_HOSTPORT_SIZE];
	const struct vg_allowedip *a;
	const struct vg_peer *p;
	char ip[INET6_ADDRSTRLEN];

	fprintf(out, "[Interface]\n");
	if (dev->listen_port)
		fprintf(out, "ListenPort = %u\n", dev->listen_port);
	if (dev->fwmark)
		fprintf(out, "FwMark = 0x%x\n", dev->fwmark);
	if (dev->flags & VG_DEV_HAS_PRIVATE_KEY)
		fprintf(out, "PrivateKey = %s\n", b64(k, dev->private_key));
	fprintf(out, "\n");
	vg_for_each_peer(dev, p) {
		fprintf(out, "[Peer]\nPublicKey = %s\n", b64(k, p->public_key));
		if (p->flags & VG_PEER_HAS_PRESHARED_KEY)
			fprintf(out, "PresharedKey = %s\n", b64(k, p->preshared_key));
		if (p->first_allowedip)
			fprintf(out, "AllowedIPs = ");
		vg_for_each_allowedip(p, a) {
			if (a->family != AF_INET && a->family != AF_INET6)
				continue;
			fprintf(out, "%s/%d%s", ip_str(ip, a), a->cidr, a->next ? ", " : "");
		}
		if (p->first_allowedip)
			fprintf(out, "\n");
		/* A failed lookup prints nothing here, unlike in `show`. */
		if (vg_peer_has_endpoint(p) && vg_hostport_format(ep, &p->endpoint))
			fprintf(out, "Endpoint = %s\n", ep);
		if (p->keepalive)
			fprintf(out, "PersistentKeepalive = %u\n", p->keepalive);
		if (p->next)
			fprintf(out, "\n");
	}
	sodium_memzero(k, sizeof(k));
}
