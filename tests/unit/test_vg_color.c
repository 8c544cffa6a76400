// SPDX-License-Identifier: MIT
/* `vg show`'s colours as wg decides and strips them: WG_COLOR_MODE
 * (always, never, else whether stdout is a terminal) and, with colours
 * off, escape sequences in the interface name removed as wg removes them. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/testutil.h"
#include "tools/vg_show.h"

/* The pretty form's first line, "interface: NAME", for NAME. */
static char *interface_line(const char *name, bool color)
{
	struct vg_show_opts o = { .color = color, .now = 1 };
	struct vg_device *dev = vg_device_new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(dev);
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	vg_show_pretty(f, dev, &o);
	fclose(f);
	vg_device_free(dev);
	return buf;
}

static void expect_line(const char *name, bool color, const char *want)
{
	char *got = interface_line(name, color);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(name_escapes_stripped_without_colour)
{
	expect_line("wg0", false, "interface: wg0\n");
	expect_line("a\x1b[31mb", false, "interface: ab\n");
	/* The run goes on to the next letter: the reset after the name. */
	expect_line("x\x1b[1", false, "interface: x\n");
	expect_line("x\x1b[", false, "interface: x\n");
	expect_line("\x1b[0mZ", false, "interface: Z\n");
	expect_line("q\x1b", false, "interface: q\x1b\n");
}
END_TEST

START_TEST(name_escapes_kept_with_colour)
{
	expect_line("a\x1b[31mb", true,
		    "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32ma\x1b[31mb\x1b[0m\n");
}
END_TEST

/* A terminal to stand for stdout: the slave side of a new pty. */
static FILE *open_tty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	FILE *f;

	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(grantpt(m), 0);
	ck_assert_int_eq(unlockpt(m), 0);
	f = fopen(ptsname(m), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(isatty(fileno(f)));
	return f;
}

static bool color_for(const char *mode, FILE *out)
{
	struct vg_show_opts o;

	if (mode)
		ck_assert_int_eq(setenv("WG_COLOR_MODE", mode, 1), 0);
	else
		ck_assert_int_eq(unsetenv("WG_COLOR_MODE"), 0);
	vg_show_opts_from_env(&o, out);
	return o.color;
}

START_TEST(color_mode_from_env)
{
	FILE *tty = open_tty(), *file = tmpfile();

	ck_assert_ptr_nonnull(file);
	ck_assert(color_for(NULL, tty));
	ck_assert(!color_for(NULL, file));
	ck_assert(color_for("always", file));
	ck_assert(!color_for("never", tty));
	/* Anything else, case included, means "a terminal or not". */
	ck_assert(color_for("ALWAYS", tty));
	ck_assert(!color_for("ALWAYS", file));
	ck_assert(!color_for("auto", file));
	ck_assert(color_for("", tty));
	fclose(tty);
	fclose(file);
}
END_TEST

static Suite *vg_color_suite(void)
{
	Suite *s = suite_create("vg_color");
	TCase *tc = tcase_create("show");

	tcase_add_test(tc, name_escapes_stripped_without_colour);
	tcase_add_test(tc, name_escapes_kept_with_colour);
	tcase_add_test(tc, color_mode_from_env);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(vg_color_suite(), false);
}
