// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vg_encoding.h"
#include "tools/vg_stats.h"
#include "tools/vg_uapi.h"

static int group_add(struct vg_stats_group *g, const char *key, const char *value)
{
	struct vg_stat *items = realloc(g->items, (g->count + 1) * sizeof(*items));

	if (!items)
		return -ENOMEM;
	g->items = items;
	items[g->count].key = strdup(key);
	items[g->count].value = strdup(value);
	if (!items[g->count].key || !items[g->count].value) {
		free(items[g->count].key);
		free(items[g->count].value);
		return -ENOMEM;
	}
	g->count++;
	return 0;
}

/* Peers are named by their base64 key, as everywhere else in vg; a key
 * that is not 64 hex digits is shown as it came. */
static int peer_open(struct vg_stats *st, const char *hex)
{
	struct vg_stats_group *peers, *g;
	uint8_t key[VG_KEY_LEN];
	char b64[VG_KEY_B64_SIZE];

	peers = realloc(st->peers, (st->npeers + 1) * sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	st->peers = peers;
	g = &peers[st->npeers];
	memset(g, 0, sizeof(*g));
	if (vg_key_from_hex(key, hex)) {
		vg_key_to_base64(b64, key);
		g->peer = strdup(b64);
	} else {
		g->peer = strdup(hex);
	}
	if (!g->peer)
		return -ENOMEM;
	st->npeers++;
	return 0;
}

static int stats_line(void *arg, const char *key, char *value, int *status)
{
	struct vg_stats *st = arg;
	char *end;
	long n;

	if (!strcmp(key, "errno")) {
		errno = 0;
		n = strtol(value, &end, 10);
		if (*end || !*value || errno || n > 0 || n < -4095)
			return -EPROTO;
		*status = (int)n;
		return 0;
	}
	if (!strcmp(key, "public_key"))
		return peer_open(st, value);
	if (st->npeers)
		return group_add(&st->peers[st->npeers - 1], key, value);
	return group_add(&st->device, key, value);
}

int vg_stats_read(FILE *f, struct vg_stats *st)
{
	return vg_uapi_read_lines(f, stats_line, st);
}

int vg_stats_fetch(struct vg_stats *st, const char *iface)
{
	FILE *f;
	int ret;

	memset(st, 0, sizeof(*st));
	snprintf(st->iface, sizeof(st->iface), "%s", iface);
	f = vg_uapi_open(iface);
	if (!f)
		return -errno;
	fputs("stats=1\n\n", f);
	fflush(f);
	ret = vg_stats_read(f, st);
	fclose(f);
	return ret;
}

static void group_free(struct vg_stats_group *g)
{
	size_t i;

	for (i = 0; i < g->count; ++i) {
		free(g->items[i].key);
		free(g->items[i].value);
	}
	free(g->items);
	free(g->peer);
}

void vg_stats_free(struct vg_stats *st)
{
	size_t i;

	group_free(&st->device);
	for (i = 0; i < st->npeers; ++i)
		group_free(&st->peers[i]);
	free(st->peers);
	memset(st, 0, sizeof(*st));
}

static size_t key_width(const struct vg_stats_group *g)
{
	size_t i, w = 0, l;

	for (i = 0; i < g->count; ++i) {
		l = strlen(g->items[i].key);
		if (l > w)
			w = l;
	}
	return w;
}

/* How a string from the daemon is written: whatever it sent, the output
 * is valid UTF-8, its control characters escaped (JSON, and a newline in a
 * Prometheus label) or shown as U+FFFD, which also stands for every byte
 * that is not part of a well-formed sequence. */
enum text_form { TEXT_TABLE, TEXT_JSON, TEXT_PROM };

static void put_text(FILE *out, const char *s, enum text_form form)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		if (form != TEXT_TABLE && (*p == '"' || *p == '\\')) {
			fprintf(out, "\\%c", *p++);
		} else if (form == TEXT_PROM && *p == '\n') {
			fputs("\\n", out);
			p++;
		} else if (form == TEXT_JSON && (*p < 0x20 || *p == 0x7f)) {
			fprintf(out, "\\u%04x", *p++);
		} else if (*p < 0x20 || *p == 0x7f || !(n = vg_utf8_len(p))) {
			fputs("\xef\xbf\xbd", out);
			p++;
		} else {
			fwrite(p, 1, n, out);
			p += n;
		}
	}
}

static void table_group(FILE *out, const struct vg_stats_group *g, size_t w)
{
	size_t i;

	for (i = 0; i < g->count; ++i) {
		fputs("  ", out);
		put_text(out, g->items[i].key, TEXT_TABLE);
		fprintf(out, "%*s  ", (int)(w - strlen(g->items[i].key)), "");
		put_text(out, g->items[i].value, TEXT_TABLE);
		fputc('\n', out);
	}
}

/* One column width for the whole table so device and peer values line up. */
void vg_stats_print_table(FILE *out, const struct vg_stats *st)
{
	size_t w = key_width(&st->device), i, pw;

	for (i = 0; i < st->npeers; ++i) {
		pw = key_width(&st->peers[i]);
		if (pw > w)
			w = pw;
	}
	fprintf(out, "interface: %s\n", st->iface);
	table_group(out, &st->device, w);
	for (i = 0; i < st->npeers; ++i) {
		fputs("\npeer: ", out);
		put_text(out, st->peers[i].peer, TEXT_TABLE);
		fputc('\n', out);
		table_group(out, &st->peers[i], w);
	}
}

/* An unsigned decimal without leading zeros can be a JSON number. */
static bool is_number(const char *s)
{
	size_t i;

	if (!s[0] || (s[0] == '0' && s[1]) || strlen(s) > 20)
		return false;
	for (i = 0; s[i]; ++i) {
		if ((unsigned int)(s[i] - '0') >= 10)
			return false;
	}
	return true;
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	put_text(out, s, TEXT_JSON);
	fputc('"', out);
}

static void json_group(FILE *out, const struct vg_stats_group *g, const char *indent)
{
	size_t i;

	fputs("{", out);
	if (g->peer) {
		fprintf(out, "\n%s  \"public_key\": ", indent);
		json_string(out, g->peer);
	}
	for (i = 0; i < g->count; ++i) {
		fprintf(out, "%s\n%s  ", (i || g->peer) ? "," : "", indent);
		json_string(out, g->items[i].key);
		fputs(": ", out);
		if (is_number(g->items[i].value))
			fputs(g->items[i].value, out);
		else
			json_string(out, g->items[i].value);
	}
	fprintf(out, "\n%s}", indent);
}

void vg_stats_print_json(FILE *out, const struct vg_stats *st)
{
	size_t i;

	fputs("{\n  \"interface\": ", out);
	json_string(out, st->iface);
	fputs(",\n  \"device\": ", out);
	json_group(out, &st->device, "  ");
	fputs(",\n  \"peers\": [", out);
	for (i = 0; i < st->npeers; ++i) {
		fputs(i ? ", " : "", out);
		json_group(out, &st->peers[i], "  ");
	}
	fputs("]\n}\n", out);
}

/* Metric names allow [a-zA-Z0-9_:]; anything else becomes '_'. */
static void prom_name(FILE *out, const char *key)
{
	fputs("vguard_", out);
	for (; *key; ++key) {
		char c = *key;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == ':';

		fputc(ok ? c : '_', out);
	}
}

static void prom_label(FILE *out, const char *name, const char *value)
{
	fprintf(out, "%s=\"", name);
	put_text(out, value, TEXT_PROM);
	fputc('"', out);
}

/* A numeric counter is the sample value; a textual state ("on",
 * "off: no kernel support") becomes an info-style sample with value 1. */
static void prom_sample(FILE *out, const struct vg_stats *st, const struct vg_stats_group *g,
			const struct vg_stat *s)
{
	bool num = is_number(s->value);

	prom_name(out, s->key);
	fputc('{', out);
	prom_label(out, "interface", st->iface);
	if (g->peer) {
		fputc(',', out);
		prom_label(out, "peer", g->peer);
	}
	if (!num) {
		fputc(',', out);
		prom_label(out, "value", s->value);
	}
	fprintf(out, "} %s\n", num ? s->value : "1");
}

static bool seen_before(const struct vg_stats *st, size_t gi, size_t ii)
{
	const struct vg_stats_group *g;
	const char *key = gi ? st->peers[gi - 1].items[ii].key : st->device.items[ii].key;
	size_t i, j;

	for (i = 0; i <= gi; ++i) {
		g = i ? &st->peers[i - 1] : &st->device;
		for (j = 0; j < (i == gi ? ii : g->count); ++j) {
			if (!strcmp(g->items[j].key, key))
				return true;
		}
	}
	return false;
}

/* The exposition format wants each metric family in one block, so the
 * samples are grouped by key across the device and every peer. */
static void prom_family(FILE *out, const struct vg_stats *st, const char *key)
{
	const struct vg_stats_group *g;
	size_t i, j;

	fputs("# TYPE ", out);
	prom_name(out, key);
	fputs(" untyped\n", out);
	for (i = 0; i <= st->npeers; ++i) {
		g = i ? &st->peers[i - 1] : &st->device;
		for (j = 0; j < g->count; ++j) {
			if (!strcmp(g->items[j].key, key))
				prom_sample(out, st, g, &g->items[j]);
		}
	}
}

void vg_stats_print_prometheus(FILE *out, const struct vg_stats *st)
{
	const struct vg_stats_group *g;
	size_t i, j;

	for (i = 0; i <= st->npeers; ++i) {
		g = i ? &st->peers[i - 1] : &st->device;
		for (j = 0; j < g->count; ++j) {
			if (!seen_before(st, i, j))
				prom_family(out, st, g->items[j].key);
		}
	}
}
