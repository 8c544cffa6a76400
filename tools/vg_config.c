// SPDX-License-Identifier: MIT
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sodium.h>

#include "tools/vg_config.h"

static bool is_space(int c)
{
	return c == ' ' || (unsigned int)(c - '\t') < 5;
}

static bool is_digit(int c)
{
	return (unsigned int)(c - '0') < 10;
}

static const char *gai_message(int ret)
{
	return ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret);
}

static bool parse_port(uint16_t *port, uint32_t *flags, const char *value, FILE *err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
		.ai_flags = AI_PASSIVE,
	};
	struct addrinfo *res;
	bool ok = true;
	int ret;

	if (!*value) {
		fprintf(err, "Unable to parse empty port\n");
		return false;
	}
	/* getaddrinfo() so that service names work as they do for wg. */
	ret = getaddrinfo(NULL, value, &hints, &res);
	if (ret) {
		fprintf(err, "%s: `%s'\n", gai_message(ret), value);
		return false;
	}
	if (res->ai_family == AF_INET && res->ai_addrlen == sizeof(struct sockaddr_in))
		*port = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
	else if (res->ai_family == AF_INET6 && res->ai_addrlen == sizeof(struct sockaddr_in6))
		*port = ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port);
	else
		ok = false;
	freeaddrinfo(res);
	if (!ok) {
		fprintf(err, "Neither IPv4 nor IPv6 address found: `%s'\n", value);
		return false;
	}
	*flags |= VG_DEV_HAS_LISTEN_PORT;
	return true;
}

static bool parse_fwmark(uint32_t *fwmark, uint32_t *flags, const char *value, FILE *err)
{
	unsigned long v;
	char *end;
	int base = 10;

	if (!strcasecmp(value, "off")) {
		*fwmark = 0;
		*flags |= VG_DEV_HAS_FWMARK;
		return true;
	}
	if (!is_digit(value[0]))
		goto bad;
	if (strlen(value) > 2 && value[0] == '0' && value[1] == 'x')
		base = 16;
	errno = 0;
	v = strtoul(value, &end, base);
	if (*end || v > UINT32_MAX || errno == ERANGE)
		goto bad;
	*fwmark = (uint32_t)v;
	*flags |= VG_DEV_HAS_FWMARK;
	return true;
bad:
	fprintf(err, "Fwmark is neither 0/off nor 0-0xffffffff: `%s'\n", value);
	return false;
}

static bool parse_key(uint8_t key[VG_KEY_LEN], const char *value, FILE *err)
{
	if (vg_key_from_base64(key, value))
		return true;
	fprintf(err, "Key is not the correct length or format: `%s'\n", value);
	sodium_memzero(key, VG_KEY_LEN);
	return false;
}

/* A key file holds one base64 key and optional trailing whitespace; an
 * empty file (/dev/null) means "no key". */
static bool parse_keyfile(uint8_t key[VG_KEY_LEN], const char *path, FILE *err)
{
	char b64[VG_KEY_B64_SIZE];
	bool ok = false;
	FILE *f;
	int c;

	f = fopen(path, "r");
	if (!f) {
		fprintf(err, "fopen: %s\n", strerror(errno));
		return false;
	}
	if (fread(b64, VG_KEY_B64_SIZE - 1, 1, f) != 1) {
		if (!ferror(f) && feof(f) && !ftell(f)) {
			sodium_memzero(key, VG_KEY_LEN);
			ok = true;
			goto out;
		}
		fprintf(err, "Invalid length key in key file\n");
		goto out;
	}
	b64[VG_KEY_B64_SIZE - 1] = '\0';
	while ((c = getc(f)) != EOF) {
		if (!is_space(c)) {
			fprintf(err, "Found trailing character in key file: `%c'\n", c);
			goto out;
		}
	}
	if (ferror(f) && errno) {
		fprintf(err, "getc: %s\n", strerror(errno));
		goto out;
	}
	ok = parse_key(key, b64, err);
out:
	sodium_memzero(b64, sizeof(b64));
	fclose(f);
	return ok;
}

static bool parse_ip(struct vg_allowedip *a, const char *value, FILE *err)
{
	a->family = AF_UNSPEC;
	if (strchr(value, ':')) {
		if (inet_pton(AF_INET6, value, &a->ip6) == 1)
			a->family = AF_INET6;
	} else if (inet_pton(AF_INET, value, &a->ip4) == 1) {
		a->family = AF_INET;
	}
	if (a->family != AF_UNSPEC)
		return true;
	fprintf(err, "Unable to parse IP address: `%s'\n", value);
	return false;
}

static int dns_retries(FILE *err)
{
	const char *s = getenv("WG_ENDPOINT_RESOLUTION_RETRIES");
	unsigned long v;
	char *end;

	if (!s)
		return 15;
	if (!strcmp(s, "infinity"))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || v > INT_MAX || errno == ERANGE) {
		/* wg gives up on the whole command here. */
		fprintf(err, "Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `%s'\n", s);
		exit(1);
	}
	return (int)v;
}

/* Splits "host:port" / "[v6]:port" in place; returns the port or NULL. */
static char *split_endpoint(char *s, char **host, const char *value, FILE *err)
{
	char *end;

	if (s[0] == '[') {
		*host = s + 1;
		end = strchr(s, ']');
		if (!end) {
			fprintf(err, "Unable to find matching brace of endpoint: `%s'\n", value);
			return NULL;
		}
		*end++ = '\0';
		if (*end++ != ':' || !*end)
			goto no_port;
		return end;
	}
	*host = s;
	end = strrchr(s, ':');
	if (!end || !end[1])
		goto no_port;
	*end++ = '\0';
	return end;
no_port:
	fprintf(err, "Unable to find port of endpoint: `%s'\n", value);
	return NULL;
}

static bool is_permanent_gai_message(int ret)
{
	return ret == EAI_NONAME || ret == EAI_FAIL || ret == EAI_NODATA;
}

static bool parse_endpoint(union vg_sockaddr *ep, const char *value, FILE *err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
	};
	unsigned int delay = 1000000;
	int ret, retries = dns_retries(err);
	struct addrinfo *res = NULL;
	char *copy, *host, *port;
	bool ok = false;

	if (!*value) {
		fprintf(err, "Unable to parse empty endpoint\n");
		return false;
	}
	copy = strdup(value);
	if (!copy) {
		fprintf(err, "strdup: %s\n", strerror(errno));
		return false;
	}
	port = split_endpoint(copy, &host, value, err);
	if (!port)
		goto out;
	/* Names may not resolve yet at boot: retry transient failures with
	 * a growing delay, like wg does. */
	for (;;) {
		ret = getaddrinfo(host, port, &hints, &res);
		if (!ret)
			break;
		if (is_permanent_gai_message(ret) || (retries >= 0 && !retries--)) {
			fprintf(err, "%s: `%s'\n", gai_message(ret), value);
			goto out;
		}
		fprintf(err, "%s: `%s'. Trying again in %.2f seconds...\n",
			gai_message(ret), value, delay / 1000000.0);
		usleep(delay);
		delay = delay * 6 / 5 > 20000000 ? 20000000 : delay * 6 / 5;
	}
	if ((res->ai_family == AF_INET && res->ai_addrlen == sizeof(struct sockaddr_in)) ||
	    (res->ai_family == AF_INET6 && res->ai_addrlen == sizeof(struct sockaddr_in6))) {
		memcpy(ep, res->ai_addr, res->ai_addrlen);
		ok = true;
	} else {
		fprintf(err, "Neither IPv4 nor IPv6 address found: `%s'\n", value);
	}
	freeaddrinfo(res);
out:
	free(copy);
	return ok;
}

static bool parse_keepalive(struct vg_peer *peer, const char *value, FILE *err)
{
	unsigned long v;
	char *end;

	if (!strcasecmp(value, "off")) {
		peer->keepalive = 0;
		peer->flags |= VG_PEER_HAS_KEEPALIVE;
		return true;
	}
	if (!is_digit(value[0]))
		goto bad;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (*end || v > 65535 || errno == ERANGE)
		goto bad;
	peer->keepalive = (uint16_t)v;
	peer->flags |= VG_PEER_HAS_KEEPALIVE;
	return true;
bad:
	fprintf(err, "Persistent keepalive interval is neither 0/off nor 1-65535: `%s'\n", value);
	return false;
}

static bool host_bits_zero(const struct vg_allowedip *a)
{
	const uint8_t *ip = a->family == AF_INET ? (const uint8_t *)&a->ip4 :
						   (const uint8_t *)&a->ip6;
	unsigned int bytes = a->family == AF_INET ? 4 : 16, i, bit;

	for (i = 0; i < bytes; ++i) {
		for (bit = 0; bit < 8; ++bit) {
			if (i * 8 + bit >= a->cidr && (ip[i] & (0x80 >> bit)))
				return false;
		}
	}
	return true;
}

/* One "ip[/cidr]" entry, optionally prefixed by '+' (add) or '-' (remove):
 * either prefix makes the list incremental instead of a replacement. */
static bool parse_allowedip_entry(struct vg_peer *peer, char *entry, FILE *err)
{
	struct vg_allowedip *a;
	char *mask, *end, *ip;
	unsigned long cidr;
	bool remove = false;

	if (entry[0] == '-' || entry[0] == '+') {
		remove = entry[0] == '-';
		peer->flags &= ~VG_PEER_REPLACE_ALLOWEDIPS;
		++entry;
	}
	a = vg_peer_add_allowedip(peer);
	if (!a) {
		fprintf(err, "calloc: %s\n", strerror(errno));
		return false;
	}
	a->remove = remove;
	mask = strchr(entry, '/');
	if (mask)
		*mask++ = '\0';
	ip = entry;
	if (!parse_ip(a, ip, err))
		return false;
	if (mask) {
		if (!is_digit(mask[0]))
			goto bad;
		cidr = strtoul(mask, &end, 10);
		if (*end || cidr > (a->family == AF_INET ? 32UL : 128UL))
			goto bad;
	} else {
		cidr = a->family == AF_INET ? 32 : 128;
	}
	a->cidr = (uint8_t)cidr;
	if (!host_bits_zero(a))
		fprintf(err, "Warning: AllowedIP has nonzero host part: %s/%s\n", ip, mask);
	return true;
bad:
	fprintf(err, "AllowedIP is not in the correct format: `%s/%s'\n", ip, mask);
	return false;
}

static bool parse_allowedips(struct vg_peer *peer, const char *value, FILE *err)
{
	char *copy, *sep, *entry;
	bool ok = true;

	peer->flags |= VG_PEER_REPLACE_ALLOWEDIPS;
	if (!*value)
		return true;
	copy = strdup(value);
	if (!copy) {
		fprintf(err, "strdup: %s\n", strerror(errno));
		return false;
	}
	sep = copy;
	while (ok && (entry = strsep(&sep, ",")))
		ok = parse_allowedip_entry(peer, entry, err);
	free(copy);
	return ok;
}

bool vg_config_init(struct vg_config_ctx *ctx, bool append, FILE *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->err = err;
	ctx->device = vg_device_new();
	if (!ctx->device) {
		fprintf(err, "calloc: %s\n", strerror(errno));
		return false;
	}
	/* A full configuration resets whatever it does not mention. */
	if (!append)
		ctx->device->flags |= VG_DEV_REPLACE_PEERS | VG_DEV_HAS_PRIVATE_KEY |
				      VG_DEV_HAS_FWMARK | VG_DEV_HAS_LISTEN_PORT;
	return true;
}

/* "Key=value" with the key matched case-insensitively; an empty value
 * does not match, so "Key=" is an unrecognized line, as in wg. */
static const char *match(const char *line, const char *key)
{
	size_t klen = strlen(key);

	if (klen >= strlen(line) || strncasecmp(line, key, klen))
		return NULL;
	return line + klen;
}

static bool interface_line(struct vg_config_ctx *ctx, const char *line, bool *ok)
{
	struct vg_device *dev = ctx->device;
	const char *v;

	if ((v = match(line, "ListenPort=")))
		*ok = parse_port(&dev->listen_port, &dev->flags, v, ctx->err);
	else if ((v = match(line, "FwMark=")))
		*ok = parse_fwmark(&dev->fwmark, &dev->flags, v, ctx->err);
	else if ((v = match(line, "PrivateKey="))) {
		*ok = parse_key(dev->private_key, v, ctx->err);
		if (*ok)
			dev->flags |= VG_DEV_HAS_PRIVATE_KEY;
	} else
		return false;
	return true;
}

static bool peer_line(struct vg_config_ctx *ctx, const char *line, bool *ok)
{
	struct vg_peer *peer = ctx->peer;
	const char *v;

	if ((v = match(line, "Endpoint=")))
		*ok = parse_endpoint(&peer->endpoint, v, ctx->err);
	else if ((v = match(line, "PublicKey="))) {
		*ok = parse_key(peer->public_key, v, ctx->err);
		if (*ok)
			peer->flags |= VG_PEER_HAS_PUBLIC_KEY;
	} else if ((v = match(line, "AllowedIPs=")))
		*ok = parse_allowedips(peer, v, ctx->err);
	else if ((v = match(line, "PersistentKeepalive=")))
		*ok = parse_keepalive(peer, v, ctx->err);
	else if ((v = match(line, "PresharedKey="))) {
		*ok = parse_key(peer->preshared_key, v, ctx->err);
		if (*ok)
			peer->flags |= VG_PEER_HAS_PRESHARED_KEY;
	} else
		return false;
	return true;
}

static bool process_line(struct vg_config_ctx *ctx, const char *line)
{
	bool ok = true;

	if (!strcasecmp(line, "[Interface]")) {
		ctx->in_interface = true;
		ctx->in_peer = false;
		return true;
	}
	if (!strcasecmp(line, "[Peer]")) {
		ctx->peer = vg_device_add_peer(ctx->device);
		if (!ctx->peer) {
			fprintf(ctx->err, "calloc: %s\n", strerror(errno));
			return false;
		}
		ctx->peer->flags |= VG_PEER_REPLACE_ALLOWEDIPS;
		ctx->in_interface = false;
		ctx->in_peer = true;
		return true;
	}
	if (ctx->in_interface && interface_line(ctx, line, &ok))
		return ok;
	if (ctx->in_peer && peer_line(ctx, line, &ok))
		return ok;
	fprintf(ctx->err, "Line unrecognized: `%s'\n", line);
	return false;
}

bool vg_config_line(struct vg_config_ctx *ctx, const char *input)
{
	size_t len = strcspn(input, "#"), i, n = 0;
	bool ok = true;
	char *line;

	line = calloc(len + 1, 1);
	if (!line) {
		fprintf(ctx->err, "calloc: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	/* wg drops every whitespace character, not just the ends. */
	for (i = 0; i < len; ++i) {
		if (!is_space(input[i]))
			line[n++] = input[i];
	}
	if (n)
		ok = process_line(ctx, line);
out:
	if (line)
		sodium_memzero(line, len + 1);
	free(line);
	if (!ok) {
		vg_device_free(ctx->device);
		ctx->device = NULL;
	}
	return ok;
}

struct vg_device *vg_config_finish(struct vg_config_ctx *ctx)
{
	struct vg_device *dev = ctx->device;
	struct vg_peer *peer;

	ctx->device = NULL;
	vg_for_each_peer(dev, peer) {
		if (!(peer->flags & VG_PEER_HAS_PUBLIC_KEY)) {
			fprintf(ctx->err, "A peer is missing a public key\n");
			vg_device_free(dev);
			return NULL;
		}
	}
	return dev;
}

static char *strip_spaces(const char *in)
{
	size_t i, n = 0, len = strlen(in);
	char *out = calloc(len + 1, 1);

	if (!out)
		return NULL;
	for (i = 0; i < len; ++i) {
		if (!is_space(in[i]))
			out[n++] = in[i];
	}
	return out;
}

/* Consumes one `set` argument group; returns how many words it used,
 * 0 for an unknown word, -1 when its value was rejected. */
static int cmd_device_arg(struct vg_device *dev, int argc, char **argv, FILE *err)
{
	if (argc < 2)
		return 0;
	if (!strcmp(argv[0], "listen-port"))
		return parse_port(&dev->listen_port, &dev->flags, argv[1], err) ? 2 : -1;
	if (!strcmp(argv[0], "fwmark"))
		return parse_fwmark(&dev->fwmark, &dev->flags, argv[1], err) ? 2 : -1;
	if (!strcmp(argv[0], "private-key")) {
		if (!parse_keyfile(dev->private_key, argv[1], err))
			return -1;
		dev->flags |= VG_DEV_HAS_PRIVATE_KEY;
		return 2;
	}
	return 0;
}

static int cmd_peer_arg(struct vg_peer *peer, int argc, char **argv, FILE *err)
{
	char *line;
	bool ok;

	if (!strcmp(argv[0], "remove")) {
		peer->flags |= VG_PEER_REMOVE;
		return 1;
	}
	if (argc < 2)
		return 0;
	if (!strcmp(argv[0], "endpoint"))
		return parse_endpoint(&peer->endpoint, argv[1], err) ? 2 : -1;
	if (!strcmp(argv[0], "allowed-ips")) {
		line = strip_spaces(argv[1]);
		if (!line)
			return -1;
		ok = parse_allowedips(peer, line, err);
		free(line);
		return ok ? 2 : -1;
	}
	if (!strcmp(argv[0], "persistent-keepalive"))
		return parse_keepalive(peer, argv[1], err) ? 2 : -1;
	if (!strcmp(argv[0], "preshared-key")) {
		if (!parse_keyfile(peer->preshared_key, argv[1], err))
			return -1;
		peer->flags |= VG_PEER_HAS_PRESHARED_KEY;
		return 2;
	}
	return 0;
}

struct vg_device *vg_config_cmd(int argc, char **argv, FILE *err)
{
	struct vg_device *dev = vg_device_new();
	struct vg_peer *peer = NULL;
	int used;

	if (!dev) {
		fprintf(err, "calloc: %s\n", strerror(errno));
		return NULL;
	}
	while (argc > 0) {
		if (!strcmp(argv[0], "peer") && argc >= 2) {
			peer = vg_device_add_peer(dev);
			if (!peer || !parse_key(peer->public_key, argv[1], err))
				goto fail;
			peer->flags |= VG_PEER_HAS_PUBLIC_KEY;
			used = 2;
		} else if (peer) {
			used = cmd_peer_arg(peer, argc, argv, err);
		} else {
			used = cmd_device_arg(dev, argc, argv, err);
		}
		if (used < 0)
			goto fail;
		if (!used) {
			fprintf(err, "Invalid argument: %s\n", argv[0]);
			goto fail;
		}
		argv += used;
		argc -= used;
	}
	return dev;
fail:
	vg_device_free(dev);
	return NULL;
}

struct vg_device *vg_config_read(FILE *in, bool append, FILE *err)
{
	struct vg_config_ctx ctx;
	struct vg_device *dev;
	size_t cap = 0;
	char *line = NULL;

	if (!vg_config_init(&ctx, append, err))
		return NULL;
	while (getline(&line, &cap, in) >= 0) {
		if (!vg_config_line(&ctx, line)) {
			fprintf(err, "Configuration parsing error\n");
			dev = NULL;
			goto out;
		}
	}
	dev = vg_config_finish(&ctx);
	if (!dev)
		fprintf(err, "Invalid configuration\n");
out:
	if (line)
		sodium_memzero(line, cap);
	free(line);
	return dev;
}
