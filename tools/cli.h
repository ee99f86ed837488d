/* SPDX-License-Identifier: MIT */
/*
 * Command-line arguments of the pinmm program. Numbers are parsed strictly:
 * the whole argument is the number, in range, else a usage error. Shared
 * by tools/ (check, explore, replay) and host_cli.c (host, bench).
 */
#ifndef PM_SCN_CLI_H
#define PM_SCN_CLI_H

/*
 * arg as a decimal (or 0x hex) number in min..max into *out: 0, or -EINVAL
 * after "pinmm VERB: OPTION: expected a number in MIN..MAX, got 'ARG'" on
 * stderr (the caller exits with status 2). No sign, blank or suffix is
 * accepted, and nothing that wraps: strtoul() alone reads "-1" as
 * ULONG_MAX and atoi() reads "2abc" as 2.
 */
int pm_cli_ulong(const char *verb, const char *option, const char *arg,
		 unsigned long min, unsigned long max, unsigned long *out);
/* Seconds > 0 and finite, likewise. */
int pm_cli_seconds(const char *verb, const char *option, const char *arg,
		   double *out);

struct option;
/*
 * getopt_long() for a verb: the same return values, but a bad option is
 * reported as "pinmm VERB: unknown option '--jsno' (did you mean
 * '--json'?)" or "... option '--jobs' needs a value" (cli_getopt.c); the
 * caller prints its usage and exits with status 2 on '?'.
 */
int pm_cli_getopt(const char *verb, int argc, char **argv, const char *shortopts,
		  const struct option *opts);

#endif
