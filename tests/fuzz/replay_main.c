// SPDX-License-Identifier: MIT
/*
 * A main() for a libFuzzer target without libFuzzer: runs every input
 * file named on the command line (a directory: every file in it) through
 * LLVMFuzzerTestOneInput once.  `make check` runs each target this way over
 * its committed corpus and its regression inputs (tests/fuzz/regress/),
 * with the compiler and sanitizers of the build at hand.  Without
 * arguments it runs FUZZ_REPLAY_DIRS (colon-separated; missing ones are
 * skipped).  Finding no input at all fails: a replay run from where its
 * corpus does not resolve must not pass having tested nothing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int runs;

static int run_file(const char *path)
{
	uint8_t *buf;
	long len;
	FILE *f = fopen(path, "rb");

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	/* Exactly the input's size, so the sanitizers see any overread. */
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	runs++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, bool optional)
{
	struct dirent *e;
	struct stat st;
	char **names = NULL, full[4096];
	size_t n = 0, i;
	int ret = 0;
	DIR *d;

	if (stat(path, &st))
		return optional && errno == ENOENT ? 0 : (perror(path), -1);
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	d = opendir(path);
	if (!d)
		return perror(path), -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names || !(names[n] = strdup(e->d_name)))
			abort();
		n++;
	}
	closedir(d);
	/* A fixed order: the targets keep state from one input to the next. */
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		if (run_file(full))
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	char dirs[] = FUZZ_REPLAY_DIRS, *save = NULL, *p;
	int i, ret = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (run_path(argv[i], false))
				ret = 1;
	} else {
		for (p = strtok_r(dirs, ":", &save); p; p = strtok_r(NULL, ":", &save))
			if (run_path(p, true))
				ret = 1;
	}
	if (!runs) {
		fprintf(stderr, "no inputs in %s\n", argc > 1 ? argv[1] : FUZZ_REPLAY_DIRS);
		ret = 1;
	}
	printf("%u inputs\n", runs);
	return ret;
}
