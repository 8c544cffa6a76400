// SPDX-License-Identifier: MIT
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <net/if.h>
#include <sodium.h>

#include "tools/vg_uapi.h"

#define SOCK_SUFFIX ".sock"

static int socket_path(struct sockaddr_un *addr, const char *iface)
{
	int n;

	if (strchr(iface, '/'))
		return -EINVAL;
	n = snprintf(addr->sun_path, sizeof(addr->sun_path), VG_UAPI_DIR "%s" SOCK_SUFFIX, iface);
	if (n < 0 || (size_t)n >= sizeof(addr->sun_path))
		return -EINVAL;
	return 0;
}

/* Connects to IFACE's socket; returns the fd or a negative errno. */
static int uapi_connect(const char *iface)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	ret = socket_path(&addr, iface);
	if (ret)
		return ret;
	if (stat(addr.sun_path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EBADF;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		/* The daemon is gone: clean up after it. */
		if (ret == -ECONNREFUSED)
			unlink(addr.sun_path);
		close(fd);
		return ret;
	}
	return fd;
}

bool vg_uapi_exists(const char *iface)
{
	int fd = uapi_connect(iface);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

FILE *vg_uapi_open(const char *iface)
{
	int fd = uapi_connect(iface);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "r+");
	if (!f)
		close(fd);
	return f;
}

/* What wg reports when no userspace socket exists: it then asks the
 * kernel, which answers ENODEV when the module is loaded and otherwise
 * fails to find the generic netlink family. */
static int no_socket_errno(void)
{
	return access("/sys/module/wireguard", F_OK) ? EPROTONOSUPPORT : ENODEV;
}

/* Strict unsigned decimal with an upper bound, as wg's reply parser. */
static bool parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if ((unsigned int)(s[0] - '0') >= 10)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || v > max || errno == ERANGE)
		return false;
	*out = v;
	return true;
}

/* Reply-line handlers return 0 to go on, 1 to stop with a protocol
 * error, or a negative errno to stop with that error. */

static int parse_reply_endpoint(struct vg_peer *peer, char *value)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
		.ai_flags = AI_NUMERICHOST,
	};
	struct addrinfo *res;
	char *host, *port;
	int ret = 1;

	if (value[0] == '[') {
		host = value + 1;
		port = strchr(value, ']');
		if (!port)
			return 1;
		*port++ = '\0';
		if (*port++ != ':' || !*port)
			return 1;
	} else {
		host = value;
		port = strrchr(value, ':');
		if (!port || !port[1])
			return 1;
		*port++ = '\0';
	}
	if (getaddrinfo(host, port, &hints, &res))
		return -ENETUNREACH;
	if ((res->ai_family == AF_INET && res->ai_addrlen == sizeof(struct sockaddr_in)) ||
	    (res->ai_family == AF_INET6 && res->ai_addrlen == sizeof(struct sockaddr_in6))) {
		memcpy(&peer->endpoint, res->ai_addr, res->ai_addrlen);
		ret = 0;
	}
	freeaddrinfo(res);
	return ret;
}

static int parse_reply_allowedip(struct vg_peer *peer, char *value)
{
	struct vg_allowedip *a;
	char *mask = strchr(value, '/'), *end;
	unsigned long cidr;

	if (!mask || (unsigned int)(mask[1] - '0') >= 10)
		return 1;
	*mask++ = '\0';
	a = vg_peer_add_allowedip(peer);
	if (!a)
		return -ENOMEM;
	if (strchr(value, ':')) {
		if (inet_pton(AF_INET6, value, &a->ip6) == 1)
			a->family = AF_INET6;
	} else if (inet_pton(AF_INET, value, &a->ip4) == 1) {
		a->family = AF_INET;
	}
	cidr = strtoul(mask, &end, 10);
	if (*end || a->family == AF_UNSPEC || cidr > (a->family == AF_INET ? 32UL : 128UL))
		return 1;
	a->cidr = (uint8_t)cidr;
	return 0;
}

static int device_key(struct vg_device *dev, const char *key, const char *value)
{
	unsigned long long n;

	if (!strcmp(key, "private_key")) {
		if (!vg_key_from_hex(dev->private_key, value) ||
		    !vg_key_public(dev->public_key, dev->private_key))
			return 1;
		dev->flags |= VG_DEV_HAS_PRIVATE_KEY | VG_DEV_HAS_PUBLIC_KEY;
	} else if (!strcmp(key, "listen_port")) {
		if (!parse_num(value, 0xffff, &n))
			return 1;
		dev->listen_port = (uint16_t)n;
		dev->flags |= VG_DEV_HAS_LISTEN_PORT;
	} else if (!strcmp(key, "fwmark")) {
		if (!parse_num(value, 0xffffffffULL, &n))
			return 1;
		dev->fwmark = (uint32_t)n;
		dev->flags |= VG_DEV_HAS_FWMARK;
	}
	/* Keys this tool does not know are skipped, as wg does. */
	return 0;
}

static int peer_num(struct vg_peer *peer, const char *key, const char *value)
{
	unsigned long long n;

	if (!strcmp(key, "persistent_keepalive_interval")) {
		if (!parse_num(value, 0xffff, &n))
			return 1;
		peer->keepalive = (uint16_t)n;
		peer->flags |= VG_PEER_HAS_KEEPALIVE;
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		if (!parse_num(value, INT64_MAX, &n))
			return 1;
		peer->handshake_sec = (int64_t)n;
	} else if (!strcmp(key, "last_handshake_time_nsec")) {
		if (!parse_num(value, INT64_MAX, &n))
			return 1;
		peer->handshake_nsec = (int64_t)n;
	} else if (!strcmp(key, "rx_bytes")) {
		if (!parse_num(value, UINT64_MAX, &n))
			return 1;
		peer->rx_bytes = n;
	} else if (!strcmp(key, "tx_bytes")) {
		if (!parse_num(value, UINT64_MAX, &n))
			return 1;
		peer->tx_bytes = n;
	}
	return 0;
}

static int peer_key(struct vg_peer *p, const char *key, char *value)
{
	if (!strcmp(key, "preshared_key")) {
		if (!vg_key_from_hex(p->preshared_key, value))
			return 1;
		if (!vg_key_is_zero(p->preshared_key))
			p->flags |= VG_PEER_HAS_PRESHARED_KEY;
		return 0;
	}
	if (!strcmp(key, "endpoint"))
		return parse_reply_endpoint(p, value);
	if (!strcmp(key, "allowed_ip"))
		return parse_reply_allowedip(p, value);
	return peer_num(p, key, value);
}

struct get_ctx {
	struct vg_device *dev;
	struct vg_peer *peer;	/* the section public_key= opened last */
};

static int get_line(void *arg, const char *key, char *value, int *status)
{
	struct get_ctx *g = arg;
	struct vg_device *dev = g->dev;
	struct vg_peer **peer = &g->peer;
	unsigned long long n;

	if (!strcmp(key, "public_key")) {
		*peer = vg_device_add_peer(dev);
		if (!*peer)
			return -ENOMEM;
		if (!vg_key_from_hex((*peer)->public_key, value))
			return 1;
		(*peer)->flags |= VG_PEER_HAS_PUBLIC_KEY;
		return 0;
	}
	if (!strcmp(key, "errno")) {
		if (!parse_num(value, 0x7fffffff, &n))
			return 1;
		*status = -(int)n;
		return 0;
	}
	if (!*peer)
		return device_key(dev, key, value);
	return peer_key(*peer, key, value);
}

int vg_uapi_read_lines(FILE *f, vg_uapi_line_fn *cb, void *ctx)
{
	size_t cap = 0, len;
	char *line = NULL, *value;
	int status = -EPROTO, ret = -EPROTO, r;

	while (getline(&line, &cap, f) > 0) {
		len = strlen(line);
		/* Only the blank line ends a reply; the errno= before it
		 * decides, and a reply without one is a protocol error. */
		if (len == 1 && line[0] == '\n') {
			ret = status;
			break;
		}
		value = strchr(line, '=');
		if (!value || line[len - 1] != '\n')
			break;
		*value++ = line[len - 1] = '\0';
		r = cb(ctx, line, value, &status);
		if (r < 0)
			ret = r;
		if (r)
			break;
	}
	if (line) {
		sodium_memzero(line, cap);
		free(line);
	}
	return ret;
}

int vg_uapi_read_get(FILE *f, struct vg_device *dev)
{
	struct get_ctx g = { .dev = dev };

	return vg_uapi_read_lines(f, get_line, &g);
}

int vg_uapi_get(struct vg_device **out, const char *iface)
{
	struct vg_device *dev;
	FILE *f;
	int ret;

	*out = NULL;
	if (!vg_uapi_exists(iface)) {
		errno = no_socket_errno();
		return -errno;
	}
	dev = vg_device_new();
	if (!dev)
		return -errno;
	f = vg_uapi_open(iface);
	if (!f) {
		ret = -errno;
		goto fail;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", iface);
	fputs("get=1\n\n", f);
	fflush(f);
	ret = vg_uapi_read_get(f, dev);
	fclose(f);
	if (ret)
		goto fail;
	*out = dev;
	return 0;
fail:
	vg_device_free(dev);
	errno = -ret;
	return ret;
}

static void write_endpoint(FILE *f, const union vg_sockaddr *ep)
{
	char buf[VG_HOSTPORT_SIZE];

	if (vg_hostport_format(buf, ep))
		fprintf(f, "endpoint=%s\n", buf);
}

static void write_allowedip(FILE *f, const struct vg_allowedip *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family != AF_INET && a->family != AF_INET6)
		return;
	if (!inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->ip4 :
							 (const void *)&a->ip6, ip, sizeof(ip)))
		return;
	fprintf(f, "allowed_ip=%s%s/%u\n", a->remove ? "-" : "", ip, a->cidr);
}

static void write_peer(FILE *f, const struct vg_peer *peer)
{
	const struct vg_allowedip *a;
	char hex[VG_KEY_HEX_SIZE];

	vg_key_to_hex(hex, peer->public_key);
	fprintf(f, "public_key=%s\n", hex);
	if (peer->flags & VG_PEER_REMOVE) {
		fputs("remove=true\n", f);
		return;
	}
	if (peer->flags & VG_PEER_HAS_PRESHARED_KEY) {
		vg_key_to_hex(hex, peer->preshared_key);
		fprintf(f, "preshared_key=%s\n", hex);
		sodium_memzero(hex, sizeof(hex));
	}
	if (vg_peer_has_endpoint(peer))
		write_endpoint(f, &peer->endpoint);
	if (peer->flags & VG_PEER_HAS_KEEPALIVE)
		fprintf(f, "persistent_keepalive_interval=%u\n", peer->keepalive);
	if (peer->flags & VG_PEER_REPLACE_ALLOWEDIPS)
		fputs("replace_allowed_ips=true\n", f);
	vg_for_each_allowedip(peer, a)
		write_allowedip(f, a);
}

void vg_uapi_write_set(FILE *f, const struct vg_device *dev)
{
	const struct vg_peer *peer;
	char hex[VG_KEY_HEX_SIZE];

	fputs("set=1\n", f);
	if (dev->flags & VG_DEV_HAS_PRIVATE_KEY) {
		vg_key_to_hex(hex, dev->private_key);
		fprintf(f, "private_key=%s\n", hex);
		sodium_memzero(hex, sizeof(hex));
	}
	if (dev->flags & VG_DEV_HAS_LISTEN_PORT)
		fprintf(f, "listen_port=%u\n", dev->listen_port);
	if (dev->flags & VG_DEV_HAS_FWMARK)
		fprintf(f, "fwmark=%u\n", dev->fwmark);
	if (dev->flags & VG_DEV_REPLACE_PEERS)
		fputs("replace_peers=true\n", f);
	vg_for_each_peer(dev, peer)
		write_peer(f, peer);
	fputs("\n", f);
}

/* Line by line rather than fscanf("errno=%d\n\n"): a trailing
 * whitespace directive would block reading past the reply. */
int vg_uapi_read_status(FILE *f)
{
	size_t cap = 0;
	char *line = NULL, *end;
	int ret = -EPROTO;
	long n;

	errno = 0;
	if (getline(&line, &cap, f) <= 0) {
		ret = errno ? -errno : -EPROTO;
		goto out;
	}
	if (strncmp(line, "errno=", 6))
		goto out;
	n = strtol(line + 6, &end, 10);
	if (end == line + 6 || *end != '\n' || n > 0 || n < -4095)
		goto out;
	ret = (int)n;
out:
	free(line);
	return ret;
}

int vg_uapi_set(const struct vg_device *dev)
{
	FILE *f;
	int ret;

	if (!vg_uapi_exists(dev->name)) {
		errno = no_socket_errno();
		return -errno;
	}
	f = vg_uapi_open(dev->name);
	if (!f)
		return -errno;
	vg_uapi_write_set(f, dev);
	fflush(f);
	ret = vg_uapi_read_status(f);
	fclose(f);
	errno = -ret;
	return ret;
}

/* Appends NAME to a "\0"-separated list kept double-NUL terminated. */
static int list_add(char **list, size_t *len, const char *name)
{
	size_t n = strlen(name) + 1;
	char *grown = realloc(*list, *len + n + 1);

	if (!grown)
		return -ENOMEM;
	memcpy(grown + *len, name, n);
	*len += n;
	grown[*len] = '\0';
	*list = grown;
	return 0;
}

char *vg_uapi_list(void)
{
	size_t len = 0, nlen, slen = strlen(SOCK_SUFFIX);
	char *list = calloc(1, 1);
	struct dirent *ent;
	DIR *dir;

	if (!list)
		return NULL;
	dir = opendir(VG_UAPI_DIR);
	if (!dir) {
		if (errno == ENOENT)
			return list;
		free(list);
		return NULL;
	}
	/* Directory order, not sorted: the same order wg prints. */
	while ((ent = readdir(dir))) {
		nlen = strlen(ent->d_name);
		if (nlen <= slen || strcmp(ent->d_name + nlen - slen, SOCK_SUFFIX))
			continue;
		ent->d_name[nlen - slen] = '\0';
		if (!vg_uapi_exists(ent->d_name))
			continue;
		if (list_add(&list, &len, ent->d_name)) {
			free(list);
			list = NULL;
			errno = ENOMEM;
			break;
		}
	}
	closedir(dir);
	return list;
}
