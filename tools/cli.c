/* SPDX-License-Identifier: MIT */
/* cli.c - strict numeric arguments for the pinmm program (cli.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int pm_cli_ulong(const char *verb, const char *option, const char *arg,
		 unsigned long min, unsigned long max, unsigned long *out)
{
	bool hex = arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X');
	const char *digits = hex ? arg + 2 : arg, *c = digits;
	unsigned long v = 0;

	/* digits only: strtoul() would skip blanks and take a sign itself */
	while (hex ? isxdigit((unsigned char)*c) : isdigit((unsigned char)*c))
		c++;
	errno = 0;
	if (c > digits && !*c)
		v = strtoul(digits, NULL, hex ? 16 : 10);
	if (c == digits || *c || errno == ERANGE || v < min || v > max) {
		fprintf(stderr, "pinmm %s: %s: expected a number in %lu..%lu, got '%s'\n",
			verb, option, min, max, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int pm_cli_seconds(const char *verb, const char *option, const char *arg,
		   double *out)
{
	char *end = NULL;
	double v = 0;

	if (isdigit((unsigned char)arg[0]) || arg[0] == '.') {
		errno = 0;
		v = strtod(arg, &end);
	}
	if (!end || *end || errno == ERANGE || !isfinite(v) || !(v > 0)) {
		fprintf(stderr, "pinmm %s: %s: expected seconds > 0, got '%s'\n", verb,
			option, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
