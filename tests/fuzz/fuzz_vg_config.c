// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for vg's configuration grammar: byte 0 picks setconf,
 * addconf or syncconf (the file is what comes before the first NUL byte;
 * after it, the running configuration as a daemon's get reply), or `vg
 * set` arguments (one per line; a key file's contents stand in for its
 * path).  Whatever vg accepts it writes as a set=1 request, which the
 * daemon's parser must accept too.
 *
 * Endpoints are resolved numerically only (getaddrinfo is wrapped at link
 * time): a fuzzer must not send DNS queries.
 */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <sodium.h>

#include "device/uapi.h"
#include "tools/vg_config.h"
#include "tools/vg_uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	struct addrinfo h = hints ? *hints : (struct addrinfo){ 0 };

	h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	return __real_getaddrinfo(node, service, &h, res);
}

static ssize_t sink_write(void *c, const char *buf, size_t len)
{
	return (ssize_t)len;
}

static FILE *sink(void)
{
	static FILE *f;

	if (!f)
		f = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = sink_write });
	return f;
}

/* What vg would send must parse on the daemon's side. */
static void check_set(const struct vg_device *dev)
{
	struct uapi_txn txn;
	size_t len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		abort();
	vg_uapi_write_set(f, dev);
	fclose(f);
	if (len < 6 || memcmp(buf, "set=1\n", 6))
		abort();
	ret = uapi_parse_set(&txn, buf + 6, len - 6);
	if (ret) {
		fprintf(stderr, "the daemon refuses what vg sends (%d):\n%s", ret, buf);
		abort();
	}
	uapi_txn_clear(&txn);
	sodium_memzero(buf, len);
	free(buf);
}

static struct vg_device *conf_file(const char *text, size_t len, unsigned int mode)
{
	const char *nul = memchr(text, '\0', len);
	size_t flen = nul ? (size_t)(nul - text) : len;
	struct vg_device *dev, *runtime;
	FILE *f;

	f = fmemopen((void *)text, flen ? flen : 1, "r");
	if (!f)
		abort();
	if (!flen)
		fgetc(f);	/* an empty file */
	dev = vg_config_read(f, mode == 1, sink());
	fclose(f);
	if (!dev || mode != 2 || !nul)
		return dev;
	runtime = vg_device_new();
	f = fmemopen((void *)(nul + 1), len - flen - 1 ? len - flen - 1 : 1, "r");
	if (!runtime || !f)
		abort();
	if (!vg_uapi_read_get(f, runtime) && !vg_config_sync(dev, runtime, sink())) {
		vg_device_free(dev);
		dev = NULL;
	}
	fclose(f);
	vg_device_free(runtime);
	return dev;
}

/* `vg set` arguments, one per line; a key file's path is replaced by a
 * file holding the line that was there. */
static struct vg_device *set_args(char *text)
{
	static int keyfd = -1;
	static char path[64];
	char *argv[256], *save = NULL, *p;
	int argc = 0, i;

	if (keyfd < 0) {
		keyfd = memfd_create("vgfuzz-key", MFD_CLOEXEC);
		if (keyfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", keyfd);
	}
	for (p = strtok_r(text, "\n", &save); p && argc < 256; p = strtok_r(NULL, "\n", &save))
		argv[argc++] = p;
	for (i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "private-key") && strcmp(argv[i], "preshared-key"))
			continue;
		if (ftruncate(keyfd, 0) ||
		    pwrite(keyfd, argv[i + 1], strlen(argv[i + 1]), 0) < 0)
			abort();
		argv[++i] = path;
	}
	return vg_config_cmd(argc, argv, sink());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_device *dev;
	unsigned int mode;
	char *text;

	if (size < 1)
		return 0;
	if (sodium_init() < 0)
		abort();
	setenv("WG_ENDPOINT_RESOLUTION_RETRIES", "0", 1);
	mode = data[0] & 3;
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (mode == 3)
		dev = set_args(text);
	else
		dev = conf_file(text, size - 1, mode);
	if (dev)
		check_set(dev);
	vg_device_free(dev);
	free(text);
	return 0;
}
