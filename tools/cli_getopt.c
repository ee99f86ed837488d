/* SPDX-License-Identifier: MIT */
/*
 * cli_getopt.c - getopt_long() for the pinmm program's verbs, with pinmm's
 * own message for a bad option: a mistyped long option names the nearest
 * one ("did you mean '--json'?", suggest.c), as a mistyped verb does.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../src/lang/suggest.h"

#define MAX_LONG_OPTS 64

static void bad_option(const char *verb, char **argv, const char *shortopts,
		       const struct option *opts)
{
	const char *arg = argv[optind - 1], *cands[MAX_LONG_OPTS], *near;
	size_t n = 0, len;

	if (optopt) {	/* a known option that lacks its value, or has one too many */
		bool named = !strncmp(arg, "--", 2) || strchr(shortopts, optopt);

		for (const struct option *o = opts; named && o->name; o++)
			if (o->val == optopt && o->has_arg == required_argument) {
				fprintf(stderr, "pinmm %s: option '--%s' needs a value\n", verb,
					o->name);
				return;
			}
		if (!strncmp(arg, "--", 2))
			fprintf(stderr, "pinmm %s: option '%.*s' takes no value\n", verb,
				(int)strcspn(arg, "="), arg);
		else
			fprintf(stderr, "pinmm %s: unknown option '-%c'\n", verb, optopt);
		return;
	}
	/* "--name" or "--name=value": the name is what may be mistyped */
	arg += strncmp(arg, "--", 2) ? 0 : 2;
	len = strcspn(arg, "=");
	for (const struct option *o = opts; o->name && n < MAX_LONG_OPTS; o++)
		cands[n++] = o->name;
	near = pm_nearest_word(arg, len, cands, n);
	if (near)
		fprintf(stderr, "pinmm %s: unknown option '--%.*s' (did you mean '--%s'?)\n",
			verb, (int)len, arg, near);
	else
		fprintf(stderr, "pinmm %s: unknown option '%s'\n", verb, argv[optind - 1]);
}

int pm_cli_getopt(const char *verb, int argc, char **argv, const char *shortopts,
		  const struct option *opts)
{
	int o;

	opterr = 0;	/* the message is ours */
	o = getopt_long(argc, argv, shortopts, opts, NULL);
	if (o == '?')
		bad_option(verb, argv, shortopts, opts);
	return o;
}
