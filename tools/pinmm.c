/* SPDX-License-Identifier: MIT */
/*
 * pinmm - the command line: `pinmm check` prints the guarantee matrix of a
 * scenario library, `pinmm run` runs one scenario. A thin layer over
 * pinmm_scenario (include/pinmm/scenario.h); docs/pinmm.1 is its manual.
 *
 * Exit status: 0 as declared / passed, 1 an expectation failed (or a cell
 * is UNEXPECTED), 2 bad input or usage, 4 (`run` only) the scenario needs
 * a mechanism the engine has not built (kselftest's KSFT_SKIP).
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pinmm/host.h>
#include <pinmm/pinmm.h>
#include <pinmm/scenario.h>

#include "cli.h"
#include "../src/lang/suggest.h"
#include "pinmm-cli.h"

enum { EXIT_DECLARED = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_SKIP = 4 };

static const char usage_main[] =
	"usage: pinmm [--version] [--help] VERB [ARGS]\n"
	"\n"
	"  check [FILES|DIRS]   the guarantee matrix of scenarios (default: scenarios/)\n"
	"  run FILE             run one scenario under one policy\n"
	"  host FILE...         run scenarios on the running Linux kernel\n"
	"  bench                the engine and the running kernel side by side\n"
	"  explore FILE         every interleaving of its threads (the explorer)\n"
	"  replay FILE SCHED    one schedule of explore's, exactly\n"
	"\n"
	"`pinmm VERB --help` describes a verb; man pinmm (docs/pinmm.1) all of it.\n";

static const char usage_check[] =
	"usage: pinmm check [--json|--tap|--ktap] [--junit FILE] [-v] [-j N]\n"
	"                   [--[no-]host] [--filter GLOB] [--list] [FILES|DIRS]\n"
	"\n"
	"Runs every scenario under strict, legacy, strict minus each switch of its\n"
	"breaks-without line and each policy of its breaks-with lines, and prints\n"
	"one row per scenario. A directory stands for its own *.pin files.\n"
	"\n"
	"  --json       machine-readable output\n"
	"  --tap        TAP version 13, one test point per cell\n"
	"  --ktap       KTAP version 1, a scenario's cells as its subtests\n"
	"  --junit FILE  also write the matrix as JUnit XML to FILE\n"
	"  -v, --verbose  every cell's reason, not only UNEXPECTED ones\n"
	"  -j, --jobs N   cells run in parallel (default 2)\n"
	"  --host       the host column: each scenario on the running kernel too\n"
	"               (root; it changes KSM/THP settings for the run and restores\n"
	"               them); without it the column says how to ask for it\n"
	"  --no-host    leave the host column out, saying so\n"
	"  --filter GLOB  only the scenarios whose name (file name without .pin)\n"
	"               matches the shell pattern GLOB; none matching is bad input\n"
	"  --list       print each scenario's name and title, run nothing\n"
	"\n"
	"Exit status: 0 as declared, 1 some cell UNEXPECTED, 2 bad input.\n";

static const char usage_run[] =
	"usage: pinmm run FILE [--policy P] [--trace] [--json|--tap]\n"
	"\n"
	"  --policy P   strict, legacy, or either with ,+switch / ,-switch changes\n"
	"               (default: the scenario's policy line, else strict)\n"
	"  --trace      every statement and its result, on stderr\n"
	"  --json, --tap  output formats\n"
	"\n"
	"Exit status: 0 pass, 1 fail, 2 bad input, 4 unsupported (a mechanism the\n"
	"engine has not built yet).\n";

static bool want_colour(FILE *f)
{
	return isatty(fileno(f)) && !getenv("NO_COLOR");
}

/* A scenario's name: its file name without the directory and ".pin". */
static void scenario_name(const char *path, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".pin"))
		n -= 4;
	snprintf(out, len, "%.*s", (int)n, base);
}

/* Keep the paths whose scenario name matches glob; false when none does. */
static bool filter_paths(char **paths, size_t *n, const char *glob)
{
	size_t kept = 0;

	for (size_t i = 0; i < *n; i++) {
		char name[256];

		scenario_name(paths[i], name, sizeof(name));
		if (fnmatch(glob, name, 0) == 0)
			paths[kept++] = paths[i];
		else
			free(paths[i]);
	}
	*n = kept;
	return kept > 0;
}

/* The formats of stdout; --junit FILE writes a file and goes with any. */
static const struct {
	int opt;
	enum pinmm_report_format format;
	const char *name;
} formats[] = {
	{ 'J', PINMM_REPORT_JSON, "--json" }, { 'T', PINMM_REPORT_TAP, "--tap" },
	{ 'K', PINMM_REPORT_KTAP, "--ktap" },
};

/* A format option: a second, different one is a usage error (*bad). */
static bool format_option(int o, struct pinmm_report_options *ropt, bool *bad)
{
	const char *had = NULL;

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == ropt->format)
			had = formats[i].name;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].opt != o)
			continue;
		if (had && ropt->format != formats[i].format) {
			fprintf(stderr, "pinmm: %s and %s cannot be used together\n", had,
				formats[i].name);
			*bad = true;
		}
		ropt->format = formats[i].format;
		return true;
	}
	return false;
}

static void progress(void *arg, size_t done, size_t total,
		     const struct pinmm_row *row, const struct pinmm_cell *cell)
{
	(void)arg;
	fprintf(stderr, "\r\033[K[%zu/%zu] %s %s", done, total,
		pinmm_scenario_file(row->scn), cell->label);
	if (done == total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' }, { "tap", no_argument, NULL, 'T' },
		{ "ktap", no_argument, NULL, 'K' }, { "junit", required_argument, NULL, 'U' },
		{ "verbose", no_argument, NULL, 'v' }, { "jobs", required_argument, NULL, 'j' },
		{ "host", no_argument, NULL, 'H' }, { "no-host", no_argument, NULL, 'N' },
		{ "filter", required_argument, NULL, 'F' }, { "list", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *filter = NULL, *junit = NULL;
	FILE *jf = NULL;
	bool list = false;
	struct pinmm_report_options ropt = { .colour = want_colour(stdout) };
	int host = -1;	/* the host column: default, --host, --no-host */
	const char *def[] = { "scenarios" };
	struct pinmm_scenario **scns;
	struct pinmm_matrix *m;
	char **paths, err[PINMM_SCN_ERRLEN];
	size_t npaths, nok = 0;
	unsigned jobs = 2;
	int o, ret, bad = 0;

	bool clash = false;

	while ((o = pm_cli_getopt("check", argc, argv, "vj:h", opts)) != -1) {
		if (format_option(o, &ropt, &clash))
			continue;
		if (o == 'U') {
			junit = optarg;
		} else if (o == 'H' || o == 'N') {
			host = o == 'H';
		} else if (o == 'F') {
			filter = optarg;
		} else if (o == 'L') {
			list = true;
		} else if (o == 'v') {
			ropt.verbose = true;
		} else if (o == 'j') {
			unsigned long n;

			if (pm_cli_ulong("check", "-j/--jobs", optarg, 1, 16, &n))
				return EXIT_USAGE;
			jobs = (unsigned)n;
		} else if (o == 'h') {
			fputs(usage_check, stdout);
			return EXIT_DECLARED;
		} else {
			fputs(usage_check, stderr);
			return EXIT_USAGE;
		}
	}
	if (clash)
		return EXIT_USAGE;
	if (ropt.format != PINMM_REPORT_TEXT)
		ropt.colour = false;
	ret = optind < argc
		? pinmm_scenario_collect((const char *const *)argv + optind,
					 (size_t)(argc - optind), &paths, &npaths, err, sizeof(err))
		: pinmm_scenario_collect(def, 1, &paths, &npaths, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pinmm check: %s\n", err);
		return EXIT_USAGE;
	}
	if (filter && !filter_paths(paths, &npaths, filter)) {
		fprintf(stderr, "pinmm check: --filter %s: no scenario matches\n", filter);
		pinmm_scenario_paths_free(paths, npaths);
		return EXIT_USAGE;
	}
	scns = calloc(npaths + 1, sizeof(*scns));
	if (!scns)
		return EXIT_USAGE;
	/* every file parses, or nothing runs */
	for (size_t i = 0; i < npaths; i++) {
		if (pinmm_scenario_load(paths[i], &scns[nok], err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			bad++;
		} else {
			nok++;
		}
	}
	pinmm_scenario_paths_free(paths, npaths);
	if (list && !bad) {
		for (size_t i = 0; i < nok; i++) {
			char name[256];

			scenario_name(pinmm_scenario_file(scns[i]), name, sizeof(name));
			printf("%s\t%s\n", name, pinmm_scenario_title(scns[i]));
			pinmm_scenario_free(scns[i]);
		}
		free(scns);
		return EXIT_DECLARED;
	}
	if (bad || pinmm_matrix_plan(scns, nok, &m)) {
		for (size_t i = 0; i < nok; i++)
			pinmm_scenario_free(scns[i]);
		free(scns);
		return EXIT_USAGE;
	}
	free(scns);
	/* before the run: a file that cannot be written is known at once */
	if (junit && !(jf = fopen(junit, "w"))) {
		fprintf(stderr, "pinmm check: --junit %s: %s\n", junit, strerror(errno));
		pinmm_matrix_free(m);
		return EXIT_USAGE;
	}
	pinmm_host_check_plan(m, host, 0);
	pinmm_matrix_run(m, jobs, isatty(STDERR_FILENO) ? progress : NULL, NULL);
	pinmm_report_matrix(stdout, m, &ropt);
	ret = pinmm_matrix_as_declared(m) ? EXIT_DECLARED : EXIT_FAILED;
	if (jf && (pinmm_report_junit(jf, m) | fclose(jf))) {
		/* a report CI cannot read is no verdict: say so, fail */
		fprintf(stderr, "pinmm check: --junit %s: cannot write it\n", junit);
		ret = EXIT_USAGE;
	}
	pinmm_matrix_free(m);
	return ret;
}

/* A policy from the command line or the scenario; a strict-based policy may
 * not name a switch the engine cannot turn off (it would test nothing). */
static int pick_policy(const char *text, const struct pinmm_scenario *scn,
		       struct pinmm_policy *pol, char *name, size_t len)
{
	char err[200];
	enum pinmm_switch bad;

	*pol = PINMM_POLICY_STRICT;
	if (text) {
		if (pinmm_policy_parse(text, pol, err, sizeof(err))) {
			fprintf(stderr, "pinmm run: --policy: %s\n", err);
			return -EINVAL;
		}
		if (!strncmp(text, "strict", 6) && pinmm_policy_validate(*pol, &bad)) {
			fprintf(stderr, "pinmm run: --policy: switch %s is not implemented by the engine yet\n",
				pinmm_switch_name(bad));
			return -EINVAL;
		}
	} else {
		pinmm_scenario_default_policy(scn, pol);
	}
	pinmm_policy_format(*pol, name, len);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' }, { "trace", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' }, { "tap", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct pinmm_report_options ropt = { .colour = want_colour(stdout) };
	struct pinmm_scn_options sopt = { 0 };
	struct pinmm_scenario *scn;
	struct pinmm_scn_result res;
	const char *policy = NULL;
	char err[PINMM_SCN_ERRLEN], pname[256];
	int o, ret;
	bool clash = false;
	struct stat st;

	while ((o = pm_cli_getopt("run", argc, argv, "p:th", opts)) != -1) {
		if (format_option(o, &ropt, &clash))
			continue;
		if (o == 'p') {
			policy = optarg;
		} else if (o == 't') {
			sopt.trace = stderr;
		} else if (o == 'h') {
			fputs(usage_run, stdout);
			/* the names, from the engine: also what completion offers */
			fputs("\nswitches:", stdout);
			for (int sw = 0; sw < PINMM_SW_NR; sw++)
				printf(" %s", pinmm_switch_name((enum pinmm_switch)sw));
			putchar('\n');
			return EXIT_DECLARED;
		} else {
			fputs(usage_run, stderr);
			return EXIT_USAGE;
		}
	}
	if (clash)
		return EXIT_USAGE;
	if (optind + 1 != argc) {
		fputs(usage_run, stderr);
		return EXIT_USAGE;
	}
	if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pinmm run: %s: is a directory (pinmm check runs a directory)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (pinmm_scenario_load(argv[optind], &scn, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	if (pick_policy(policy, scn, &sopt.policy, pname, sizeof(pname))) {
		pinmm_scenario_free(scn);
		return EXIT_USAGE;
	}
	ret = pinmm_scenario_run(scn, &sopt, &res);
	if (ret) {
		fprintf(stderr, "pinmm run: cannot create the engine: %s\n", strerror(-ret));
		pinmm_scenario_free(scn);
		return EXIT_FAILED;
	}
	if (ropt.format != PINMM_REPORT_TEXT)
		ropt.colour = false;
	pinmm_report_run(stdout, scn, pname, &res, &ropt);
	pinmm_scenario_free(scn);
	return res.outcome == PINMM_SCN_PASS ? EXIT_DECLARED
	     : res.outcome == PINMM_SCN_FAIL ? EXIT_FAILED : EXIT_SKIP;
}

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (!verb) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "--version") || !strcmp(verb, "-V")) {
		printf("pinmm %s\n", PINMM_VERSION);
		return EXIT_DECLARED;
	}
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		fputs(usage_main, stdout);
		return EXIT_DECLARED;
	}
	/* the verb's own options start after it */
	if (!strcmp(verb, "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(verb, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(verb, "explore"))
		return pinmm_cmd_explore(argc - 1, argv + 1);
	if (!strcmp(verb, "replay"))
		return pinmm_cmd_replay(argc - 1, argv + 1);
	if (!strcmp(verb, "host"))
		return pinmm_host_cmd(argc - 1, argv + 1);
	if (!strcmp(verb, "bench"))
		return pinmm_host_cmd_bench(argc - 1, argv + 1);
	/* internal: exec'd by `pinmm bench` (not a verb for people) */
	if (!strcmp(verb, "__bench-fork-child"))
		return pinmm_host_bench_fork_child(argc - 1, argv + 1);
	static const char *const verbs[] = { "check", "run", "explore", "replay", "host", "bench" };
	const char *near = pm_nearest_word(verb, strlen(verb), verbs, sizeof(verbs) / sizeof(verbs[0]));
	if (near)
		fprintf(stderr, "pinmm: unknown verb '%s' (did you mean '%s'?)\n%s", verb, near,
			usage_main);
	else
		fprintf(stderr, "pinmm: unknown verb '%s'\n%s", verb, usage_main);
	return EXIT_USAGE;
}
