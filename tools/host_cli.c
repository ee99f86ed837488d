/* SPDX-License-Identifier: MIT */
/*
 * host_cli.c - the CLI verbs of the host backend (`pinmm host`, `pinmm
 * bench`) and the choice of `pinmm check`'s host column. tools/pinmm.c
 * only dispatches here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <pinmm/host.h>

#include "cli.h"

enum { EXIT_PASS = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_SKIP = 4 };

/* --timeout: a day is more than any scenario needs (the alarm is per run) */
#define HOST_MAX_TIMEOUT 86400ul

static const char usage_host[] =
	"usage: pinmm host [--json] [--trace] [--timeout S] FILE...\n"
	"       pinmm host --restore [--timeout S]\n"
	"\n"
	"Runs each scenario on the running Linux kernel (real mmap, fork, io_uring\n"
	"fixed buffers as long-term pins, KSM, MADV_COLLAPSE; docs/host-conformance.md).\n"
	"Statements the kernel cannot express are skipped with the reason.\n"
	"Needs root and io_uring. The KSM and THP settings a run changes are restored\n"
	"afterwards, also on a signal; they are journalled first (/run/pinmm/journal),\n"
	"so that what a run killed by SIGKILL or a crash left is restored by the next\n"
	"run, or --restore. Runs wait for each other (/run/pinmm/host.lock).\n"
	"\n"
	"  --json        one JSON object per scenario\n"
	"  --trace       every statement and its result, on stderr\n"
	"  --timeout S   per scenario, waiting for another run included, 1..86400\n"
	"                (default 30)\n"
	"  --restore     only restore what a killed run left (one line per setting)\n"
	"\n"
	"Exit status: 0 every scenario passed, 1 one failed, 2 bad input,\n"
	"4 none failed and at least one was skipped (or the backend is unavailable).\n";

static int host_restore(unsigned timeout)
{
	int n = pinmm_host_recover(timeout);

	if (n < 0) {
		fprintf(stderr, "pinmm host: --restore: %s\n", n == -EPERM ? "needs root"
			: n == -ETIMEDOUT ? "timed out waiting for another run" : strerror(-n));
		return EXIT_FAILED;
	}
	if (n == 0)
		fprintf(stderr, "pinmm host: nothing to restore\n");
	return EXIT_PASS;
}

int pinmm_host_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' }, { "trace", no_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' },
		{ "restore", no_argument, NULL, 'R' }, { 0 },
	};
	struct pinmm_host_options hopt = { .timeout = 30 };
	bool json = false, failed = false, skipped = false, restore = false;
	char err[PINMM_SCN_ERRLEN], why[200];
	unsigned long timeout;
	int o;

	while ((o = pm_cli_getopt("host", argc, argv, "th", opts)) != -1) {
		if (o == 'J') {
			json = true;
		} else if (o == 't') {
			hopt.trace = stderr;
		} else if (o == 'T') {
			if (pm_cli_ulong("host", "--timeout", optarg, 1, HOST_MAX_TIMEOUT, &timeout))
				return EXIT_USAGE;
			hopt.timeout = (unsigned)timeout;
		} else if (o == 'R') {
			restore = true;
		} else if (o == 'h') {
			fputs(usage_host, stdout);
			return EXIT_PASS;
		} else {
			fputs(usage_host, stderr);
			return EXIT_USAGE;
		}
	}
	if (restore && optind == argc)
		return host_restore(hopt.timeout);
	if (restore || optind >= argc) {
		fputs(usage_host, stderr);
		return EXIT_USAGE;
	}
	struct pinmm_scenario **scns = calloc((size_t)(argc - optind), sizeof(*scns));
	int n = 0;

	if (!scns)
		return EXIT_USAGE;
	for (int i = optind; i < argc; i++) {
		if (pinmm_scenario_load(argv[i], &scns[n], err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			for (int k = 0; k < n; k++)
				pinmm_scenario_free(scns[k]);
			free(scns);
			return EXIT_USAGE;
		}
		n++;
	}
	if (pinmm_host_available(why, sizeof(why)))
		fprintf(stderr, "pinmm host: %s: every scenario is skipped\n", why);
	for (int i = 0; i < n; i++) {
		struct pinmm_host_result res;
		int ret = pinmm_host_run(scns[i], &hopt, &res);

		if (ret) {
			fprintf(stderr, "pinmm host: %s: cannot run: %s\n",
				pinmm_scenario_file(scns[i]), strerror(-ret));
			failed = true;
			continue;
		}
		pinmm_host_report(stdout, scns[i], &res, json);
		fflush(stdout);
		failed |= res.outcome == PINMM_HOST_FAIL;
		skipped |= res.outcome == PINMM_HOST_SKIP;
	}
	for (int k = 0; k < n; k++)
		pinmm_scenario_free(scns[k]);
	free(scns);
	return failed ? EXIT_FAILED : skipped ? EXIT_SKIP : EXIT_PASS;
}

void pinmm_host_check_plan(struct pinmm_matrix *m, int mode, unsigned timeout)
{
	char why[200] = "";
	struct utsname u;
	bool ok;

	if (mode <= 0) {
		/* opt-in: a host run changes the machine's KSM/THP settings for
		 * its duration */
		pinmm_host_plan(m, false, mode == 0 ? "--no-host"
				: "not asked for (--host runs each scenario on the running kernel, as root)",
				timeout);
		return;
	}
	ok = uname(&u) == 0 && !strcmp(u.sysname, "Linux") &&
	     pinmm_host_available(why, sizeof(why)) == 0;
	if (!ok && !why[0])
		snprintf(why, sizeof(why), "not Linux");
	pinmm_host_plan(m, ok, why, timeout);
}

static const char usage_bench[] =
	"usage: pinmm bench [--json] [--reps N] [--plot FILE.svg] [--quick]\n"
	"\n"
	"The engine and the running kernel side by side, in one run, as ratios:\n"
	"pin+unpin vs io_uring register+unregister (4 KiB .. 256 MiB), first-touch\n"
	"fault, fork of 256 MiB touched with none / all of it pinned, KSM merge.\n"
	"Needs root for the host side (KSM, RLIMIT_MEMLOCK); without it those rows\n"
	"are skipped with the reason.\n"
	"\n"
	"  --json         machine-readable output\n"
	"  --reps N       repetitions per figure, the median is shown (default 5)\n"
	"  --plot FILE    an SVG bar chart of the per-page costs, engine vs host (gnuplot)\n"
	"  --quick        smaller sizes (a smoke test; its goals say little)\n"
	"\n"
	"Exit status: 0 every goal met, 1 a goal missed, 2 usage or error,\n"
	"4 none missed but some could not be assessed (host side skipped).\n";

int pinmm_host_cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' }, { "reps", required_argument, NULL, 'r' },
		{ "plot", required_argument, NULL, 'p' }, { "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct pinmm_host_bench_options bopt = { .reps = 5 };
	unsigned long reps;
	int o, ret;

	while ((o = pm_cli_getopt("bench", argc, argv, "h", opts)) != -1) {
		if (o == 'J') {
			bopt.json = true;
		} else if (o == 'r') {
			if (pm_cli_ulong("bench", "--reps", optarg, 1, 99, &reps))
				return EXIT_USAGE;
			bopt.reps = (int)reps;
		} else if (o == 'p') {
			bopt.plot = optarg;
		} else if (o == 'q') {
			bopt.quick = true;
		} else if (o == 'h') {
			fputs(usage_bench, stdout);
			return EXIT_PASS;
		} else {
			fputs(usage_bench, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(usage_bench, stderr);
		return EXIT_USAGE;
	}
	ret = pinmm_host_bench(&bopt, stdout);
	return ret < 0 ? EXIT_USAGE : ret;
}
