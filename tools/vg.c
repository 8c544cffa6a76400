// SPDX-License-Identifier: MIT
/*
 * vg: vguard's wg(8)-compatible configuration tool. Every wg subcommand
 * takes the same arguments and prints the same bytes; `stats` and
 * `offload-check` are vguard's own.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>

#include "tools/offload_check.h"
#include "tools/vg_config.h"
#include "tools/vg_show.h"
#include "tools/vg_stats.h"
#include "tools/vg_uapi.h"

static const char *prog;

static void perror_msg(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
}

static const char show_fields[] =
	"public-key | private-key | listen-port | fwmark | peers | preshared-keys | endpoints | "
	"allowed-ips | latest-handshakes | transfer | persistent-keepalive | dump";

static void show_usage(const char *cmd)
{
	fprintf(stderr, "Usage: %s %s { <interface> | all | interfaces } [%s]\n", prog, cmd,
		show_fields);
}

static int show_all(int argc, char **argv)
{
	char *list = vg_uapi_list(), *name;
	struct vg_show_opts o;
	struct vg_device *dev;
	size_t len;
	int ret;

	if (!list) {
		perror_msg("Unable to list interfaces", errno);
		return 1;
	}
	vg_show_opts_from_env(&o, stdout);
	ret = !!*list;
	for (name = list; (len = strlen(name)); name += len + 1) {
		if (vg_uapi_get(&dev, name) < 0) {
			fprintf(stderr, "Unable to access interface %s: %s\n", name, strerror(errno));
			continue;
		}
		if (argc == 3) {
			if (!vg_show_field(stdout, dev, argv[2], true)) {
				fprintf(stderr, "Invalid parameter: `%s'\n", argv[2]);
				show_usage(argv[0]);
				vg_device_free(dev);
				ret = 1;
				break;
			}
		} else {
			vg_show_pretty(stdout, dev, &o);
			if (strlen(name + len + 1))
				printf("\n");
		}
		vg_device_free(dev);
		ret = 0;
	}
	free(list);
	return ret;
}

static int show_interfaces(int argc, char **argv)
{
	char *list, *name;
	size_t len;

	if (argc > 2) {
		show_usage(argv[0]);
		return 1;
	}
	list = vg_uapi_list();
	if (!list) {
		perror_msg("Unable to list interfaces", errno);
		return 1;
	}
	for (name = list; (len = strlen(name)); name += len + 1)
		printf("%s%c", name, strlen(name + len + 1) ? ' ' : '\n');
	free(list);
	return 0;
}

static int show_main(int argc, char **argv)
{
	struct vg_show_opts o;
	struct vg_device *dev;
	int ret = 0;

	if (argc > 3) {
		show_usage(argv[0]);
		return 1;
	}
	if (argc == 1 || !strcmp(argv[1], "all"))
		return show_all(argc, argv);
	if (!strcmp(argv[1], "interfaces"))
		return show_interfaces(argc, argv);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "help"))) {
		show_usage(argv[0]);
		return 0;
	}
	if (vg_uapi_get(&dev, argv[1]) < 0) {
		perror_msg("Unable to access interface", errno);
		return 1;
	}
	if (argc == 3) {
		if (!vg_show_field(stdout, dev, argv[2], false)) {
			fprintf(stderr, "Invalid parameter: `%s'\n", argv[2]);
			show_usage(argv[0]);
			ret = 1;
		}
	} else {
		vg_show_opts_from_env(&o, stdout);
		vg_show_pretty(stdout, dev, &o);
	}
	vg_device_free(dev);
	return ret;
}

static int showconf_main(int argc, char **argv)
{
	struct vg_device *dev;

	if (argc != 2) {
		fprintf(stderr, "Usage: %s %s <interface>\n", prog, argv[0]);
		return 1;
	}
	if (vg_uapi_get(&dev, argv[1])) {
		perror_msg("Unable to access interface", errno);
		return 1;
	}
	vg_showconf(stdout, dev);
	vg_device_free(dev);
	return 0;
}

static int set_main(int argc, char **argv)
{
	struct vg_device *dev;
	int ret = 1;

	if (argc < 3) {
		fprintf(stderr, "Usage: %s %s <interface> [listen-port <port>] [fwmark <mark>] "
			"[private-key <file path>] [peer <base64 public key> [remove] "
			"[preshared-key <file path>] [endpoint <ip>:<port>] "
			"[persistent-keepalive <interval seconds>] "
			"[allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]...\n", prog, argv[0]);
		return 1;
	}
	dev = vg_config_cmd(argc - 2, argv + 2, stderr);
	if (!dev)
		return 1;
	snprintf(dev->name, sizeof(dev->name), "%s", argv[1]);
	if (vg_uapi_set(dev) != 0)
		perror_msg("Unable to modify interface", errno);
	else
		ret = 0;
	vg_device_free(dev);
	return ret;
}

static bool sync_conf(struct vg_device *file)
{
	struct vg_device *runtime;
	bool ok;

	if (!file->first_peer)
		return true;
	if (vg_uapi_get(&runtime, file->name) != 0) {
		perror_msg("Unable to retrieve current interface configuration", errno);
		return false;
	}
	ok = vg_config_sync(file, runtime, stderr);
	vg_device_free(runtime);
	return ok;
}

static int setconf_main(int argc, char **argv)
{
	struct vg_device *dev;
	FILE *in;
	int ret = 1;

	if (argc != 3) {
		fprintf(stderr, "Usage: %s %s <interface> <configuration filename>\n", prog, argv[0]);
		return 1;
	}
	in = fopen(argv[2], "r");
	if (!in) {
		perror_msg("fopen", errno);
		return 1;
	}
	dev = vg_config_read(in, !strcmp(argv[0], "addconf"), stderr);
	fclose(in);
	if (!dev)
		return 1;
	snprintf(dev->name, sizeof(dev->name), "%s", argv[1]);
	if (!strcmp(argv[0], "syncconf") && !sync_conf(dev))
		goto out;
	if (vg_uapi_set(dev) != 0) {
		perror_msg("Unable to modify interface", errno);
		goto out;
	}
	ret = 0;
out:
	vg_device_free(dev);
	return ret;
}

static int genkey_main(int argc, char **argv)
{
	uint8_t key[VG_KEY_LEN];
	char b64[VG_KEY_B64_SIZE];
	struct stat st;

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s\n", prog, argv[0]);
		return 1;
	}
	if (!fstat(STDOUT_FILENO, &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fputs("Warning: writing to world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n", stderr);
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: Unable to initialise libsodium\n", prog);
		return 1;
	}
	randombytes_buf(key, sizeof(key));
	if (!strcmp(argv[0], "genkey"))
		vg_key_clamp(key);
	vg_key_to_base64(b64, key);
	puts(b64);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	return 0;
}

static bool is_space(int c)
{
	return c == ' ' || (unsigned int)(c - '\t') < 5;
}

static int pubkey_main(int argc, char **argv)
{
	uint8_t key[VG_KEY_LEN];
	char b64[VG_KEY_B64_SIZE];
	int c, ret = 1;

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s\n", prog, argv[0]);
		return 1;
	}
	if (fread(b64, 1, VG_KEY_B64_SIZE - 1, stdin) != VG_KEY_B64_SIZE - 1) {
		fprintf(stderr, "%s: Key is not the correct length or format\n", prog);
		goto out;
	}
	b64[VG_KEY_B64_SIZE - 1] = '\0';
	while ((c = getc(stdin)) != EOF) {
		if (c && !is_space(c)) {
			fprintf(stderr, "%s: Trailing characters found after key\n", prog);
			goto out;
		}
	}
	if (!vg_key_from_base64(key, b64) || !vg_key_public(key, key)) {
		fprintf(stderr, "%s: Key is not the correct length or format\n", prog);
		goto out;
	}
	vg_key_to_base64(b64, key);
	puts(b64);
	ret = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

static int stats_main(int argc, char **argv)
{
	void (*print)(FILE *, const struct vg_stats *) = vg_stats_print_table;
	struct vg_stats st;
	int ret;

	if (argc == 3 && !strcmp(argv[2], "--json"))
		print = vg_stats_print_json;
	else if (argc == 3 && !strcmp(argv[2], "--prometheus"))
		print = vg_stats_print_prometheus;
	else if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: %s %s <interface> [--json | --prometheus]\n", prog, argv[0]);
		return 1;
	}
	if (!vg_uapi_exists(argv[1])) {
		perror_msg("Unable to access interface", ENODEV);
		return 1;
	}
	ret = vg_stats_fetch(&st, argv[1]);
	if (ret) {
		perror_msg("Unable to read statistics", -ret);
		vg_stats_free(&st);
		return 1;
	}
	print(stdout, &st);
	vg_stats_free(&st);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "show", show_main, "Shows the current configuration and device information" },
	{ "showconf", showconf_main,
	  "Shows the current configuration of a given WireGuard interface, for use with `setconf'" },
	{ "set", set_main, "Change the current configuration, add peers, remove peers, or change peers" },
	{ "setconf", setconf_main, "Applies a configuration file to a WireGuard interface" },
	{ "addconf", setconf_main, "Appends a configuration file to a WireGuard interface" },
	{ "syncconf", setconf_main, "Synchronizes a configuration file to a WireGuard interface" },
	{ "genkey", genkey_main, "Generates a new private key and writes it to stdout" },
	{ "genpsk", genkey_main, "Generates a new preshared key and writes it to stdout" },
	{ "pubkey", pubkey_main, "Reads a private key from stdin and writes a public key to stdout" },
	{ "stats", stats_main, "Shows vguard's data-path and offload counters (--json, --prometheus)" },
	{ "offload-check", offload_check_main, "Checks which virtio-net offloads this kernel supports" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s <cmd> [<args>]\n\n", prog);
	fprintf(f, "Available subcommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); ++i)
		fprintf(f, "  %s: %s\n", commands[i].name, commands[i].help);
	fprintf(f, "You may pass `--help' to any of these subcommands to view usage.\n");
}

int main(int argc, char **argv)
{
	static char *show_argv[] = { "show", NULL };
	size_t i;

	prog = argv[0];
	if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version") ||
			  !strcmp(argv[1], "version"))) {
		printf("vg (vguard) v%s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 1)
		return show_main(1, show_argv);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); ++i) {
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "Invalid subcommand: `%s'\n", argv[1]);
	usage(stderr);
	return 1;
}
