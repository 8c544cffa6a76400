// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for vg's side of the UAPI: a hostile daemon's replies,
 * read through a stream that hands them over in short pieces as a socket
 * may.  Byte 0 picks the reply (bits 0-1: get, stats, a set's status)
 * and the printers that then run on what was read (colours, keys shown);
 * byte 1 the largest piece.  A get reply goes through every `vg show`
 * form and showconf, a stats reply through the table, JSON and Prometheus
 * printers.  Whatever the daemon sent, what vg prints must be valid UTF-8
 * without control characters but newlines and tabs (and, with colours,
 * their escape sequences), judged by a decoder of its own here.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <sodium.h>

#include "tools/vg_show.h"
#include "tools/vg_stats.h"
#include "tools/vg_uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct reader {
	const uint8_t *p;
	size_t n;
	size_t piece;
	unsigned int turn;
};

/* A piece of up to r->piece bytes, its size varying from read to read. */
static ssize_t piece_read(void *c, char *buf, size_t len)
{
	struct reader *r = c;
	size_t n = 1 + (r->piece * 7 + r->turn++ * 13) % r->piece;

	if (n > len)
		n = len;
	if (n > r->n)
		n = r->n;
	memcpy(buf, r->p, n);
	r->p += n;
	r->n -= n;
	return (ssize_t)n;
}

static char *out_buf;
static size_t out_len;

static FILE *out_open(void)
{
	FILE *f = open_memstream(&out_buf, &out_len);

	if (!f)
		abort();
	return f;
}

/* The length of the UTF-8 sequence at p (n bytes left), 0 if ill-formed:
 * decoded, then refused if overlong, a surrogate or past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Closes what out_open() gave and judges the text written to it. */
static void out_check(FILE *f, bool color)
{
	size_t i = 0, n;

	if (fclose(f))
		abort();
	while (i < out_len) {
		unsigned char c = (unsigned char)out_buf[i];

		if (color && c == 0x1b) {
			i++;
			continue;
		}
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
			fprintf(stderr, "vg printed control character 0x%02x at %zu\n", c, i);
			abort();
		}
		n = utf8_seq((const unsigned char *)out_buf + i, out_len - i);
		if (!n) {
			fprintf(stderr, "vg printed invalid UTF-8 at %zu\n", i);
			abort();
		}
		i += n;
	}
	free(out_buf);
	out_buf = NULL;
}

static void show(struct vg_device *dev, unsigned int flags)
{
	static const char *const fields[] = {
		"public-key", "private-key", "listen-port", "fwmark", "peers", "preshared-keys",
		"endpoints", "allowed-ips", "latest-handshakes", "transfer",
		"persistent-keepalive", "dump",
	};
	struct vg_show_opts o = {
		.color = flags & 4,
		.show_keys = flags & 8,
		.now = 1700000000,
	};
	FILE *out;
	size_t i;

	snprintf(dev->name, sizeof(dev->name), "vgfuzz");
	out = out_open();
	vg_show_pretty(out, dev, &o);
	vg_showconf(out, dev);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		vg_show_field(out, dev, fields[i], flags & 16);
	out_check(out, o.color);
}

static void stats(FILE *f)
{
	struct vg_stats st;

	memset(&st, 0, sizeof(st));
	snprintf(st.iface, sizeof(st.iface), "vgfuzz");
	if (!vg_stats_read(f, &st)) {
		FILE *out = out_open();

		vg_stats_print_table(out, &st);
		vg_stats_print_json(out, &st);
		vg_stats_print_prometheus(out, &st);
		out_check(out, false);
	}
	vg_stats_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r;
	struct vg_device *dev;
	unsigned int flags;
	FILE *f;

	if (size < 2)
		return 0;
	if (sodium_init() < 0)
		abort();
	flags = data[0];
	r = (struct reader){ data + 2, size - 2, 1 + data[1] % 64, 0 };
	f = fopencookie(&r, "r", (cookie_io_functions_t){ .read = piece_read });
	if (!f)
		abort();
	switch (flags & 3) {
	case 0:
	case 3:
		dev = vg_device_new();
		if (!dev)
			abort();
		if (!vg_uapi_read_get(f, dev))
			show(dev, flags);
		vg_device_free(dev);
		break;
	case 1:
		stats(f);
		break;
	case 2:
		vg_uapi_read_status(f);
		break;
	}
	fclose(f);
	return 0;
}
