// SPDX-License-Identifier: MIT
/*
 * config-churn: what configuration churn does to a device's memory.  Two
 * devices on the in-memory TUN and UDP network keep a session up with a
 * 1 s persistent keepalive; one of them is then put through N sets as
 * `vg syncconf` makes them: its peer kept, a random half of a pool of 40
 * others added or updated (an endpoint, a /24 each, every other one with a
 * 1 s persistent keepalive, so handshakes to nowhere start and give up),
 * the rest of the pool removed; the devices' clock moves a second on every
 * tenth set.  Every EVERY sets it prints malloc's bytes in use, its arena
 * and the RSS: a leak shows in the first, fragmentation in the other two.
 *
 * Usage: tools/bench/config-churn [N [EVERY]]   (default 40000 2000)
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conn/bind.h"
#include "device/device.h"
#include "device/uapi.h"
#include "tun/tun.h"

#define POOL 40

struct side {
	struct device *dev;
	char hpriv[65], hpub[65];	/* its key pair, in hex as the UAPI takes it */
};

static uint64_t offset_ns;

static uint64_t churn_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec +
	       __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
}

static void die(const char *what)
{
	fprintf(stderr, "config-churn: %s\n", what);
	exit(1);
}

static void set(struct device *dev, const char *conf, size_t len)
{
	struct uapi_txn txn;

	memset(&txn, 0, sizeof(txn));
	if (uapi_parse_set(&txn, conf, len))
		die("a configuration did not parse");
	if (device_uapi_ops.set(dev, &txn))
		die("a set failed");
	uapi_txn_clear(&txn);
}

static void side_open(struct side *s, struct vg_memnet *net, const char *name)
{
	struct tun_event up = { .type = TUN_EVENT_UP };
	struct tun_mem_options mo;
	struct device_options o;
	uint8_t priv[32], pub[32];
	struct tun *tun;
	int i;

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = 1;
	mo.tso = mo.uso = true;
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.clock = churn_clock;
	if (tun_mem_open(&tun, name, &mo) || device_new(&s->dev, tun, &o) ||
	    device_start(s->dev) || tun_mem_push_event(tun, &up))
		die("cannot start a device");
	for (i = 0; i < 2000 && !device_port(s->dev); i++)
		usleep(1000);
	if (!device_port(s->dev))
		die("a device did not come up");
	crypto_box_keypair(pub, priv);
	sodium_bin2hex(s->hpriv, sizeof(s->hpriv), priv, sizeof(priv));
	sodium_bin2hex(s->hpub, sizeof(s->hpub), pub, sizeof(pub));
}

/* a's own settings and its peer b, at the head of every set. */
static size_t head(char *buf, size_t cap, const struct side *a, const struct side *b,
		   uint16_t port, uint16_t b_port, int b_last)
{
	return (size_t)snprintf(buf, cap,
				"private_key=%s\nlisten_port=%u\n"
				"public_key=%s\nendpoint=127.0.0.1:%u\nallowed_ip=192.0.2.%d/32\n"
				"persistent_keepalive_interval=1\n",
				a->hpriv, port, b->hpub, b_port, b_last);
}

static void report(unsigned long i)
{
	struct mallinfo2 mi = mallinfo2();
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		die("cannot read /proc/self/statm");
	fclose(f);
	printf("%lu\tin_use_kB=%zu\tarena_kB=%zu\trss_kB=%ld\n", i, mi.uordblks / 1024,
	       mi.arena / 1024, rss * (sysconf(_SC_PAGESIZE) / 1024));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 40000;
	unsigned long every = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	char pool[POOL][65], conf[POOL * 200 + 512];
	uint8_t key[32], unused[32];
	struct vg_memnet *net;
	struct side a, b;
	unsigned long i;
	size_t len;
	int k;

	if (argc > 3 || !n || !every) {
		fprintf(stderr, "usage: %s [N [EVERY]]\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0 || !(net = vg_memnet_new()))
		die("cannot start");
	side_open(&a, net, "churn0");
	side_open(&b, net, "churn1");
	for (k = 0; k < POOL; k++) {
		crypto_box_keypair(key, unused);
		sodium_bin2hex(pool[k], sizeof(pool[k]), key, sizeof(key));
	}
	len = head(conf, sizeof(conf), &b, &a, 51821, 51820, 1);
	set(b.dev, conf, len);
	for (i = 0; i <= n; i++) {
		len = head(conf, sizeof(conf), &a, &b, 51820, 51821, 2);
		for (k = 0; k < POOL; k++) {
			if (random() % 2) {
				len += (size_t)snprintf(conf + len, sizeof(conf) - len,
							"public_key=%s\nremove=true\n", pool[k]);
				continue;
			}
			len += (size_t)snprintf(conf + len, sizeof(conf) - len,
						"public_key=%s\nreplace_allowed_ips=true\n"
						"endpoint=10.77.0.%d:%d\nallowed_ip=10.201.%d.0/24\n%s",
						pool[k], 100 + k, 40000 + k, k,
						k % 2 ? "persistent_keepalive_interval=1\n" : "");
		}
		set(a.dev, conf, len);
		if (i % 10 == 0) {
			__atomic_fetch_add(&offset_ns, 1000000000ULL, __ATOMIC_RELAXED);
			usleep(2000);
		}
		if (i % every == 0)
			report(i);
	}
	device_free(a.dev);
	device_free(b.dev);
	vg_memnet_free(net);
	return 0;
}
