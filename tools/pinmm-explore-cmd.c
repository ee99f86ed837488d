/* SPDX-License-Identifier: MIT */
/*
 * `pinmm explore` and `pinmm replay`: a scenario's threads under the
 * deterministic explorer (include/pinmm/scenario_explore.h,
 * docs/explorer.md). Part of the pinmm program (tools/pinmm.c dispatches).
 *
 * Exit status: 0 no counterexample (explore) / the expectations hold
 * (replay), 1 a counterexample (explore) / the expectation fails as in the
 * counterexample (replay), 2 bad input or usage, 4 the scenario needs a
 * mechanism the engine has not built.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pinmm/pinmm.h>
#include <pinmm/scenario_explore.h>

#include "cli.h"
#include "../src/report/report.h"
#include "pinmm-cli.h"

enum { EXIT_OK = 0, EXIT_FOUND = 1, EXIT_BAD = 2, EXIT_INCOMPLETE = 3, EXIT_UNSUPPORTED = 4 };

/* dfs without --budget: a search that could run for hours stops here */
#define DEFAULT_BUDGET_SECONDS 600.0

const char pinmm_usage_explore[] =
	"usage: pinmm explore FILE [--policy P] [--bound K|none]\n"
	"                    [--strategy dfs|dfs-plain|pct]\n"
	"                    [--seed S] [--depth D] [--budget SECONDS]\n"
	"                    [--max-executions N] [--progress] [--json] [--dot FILE]\n"
	"                    [--shard K/N] [--keep-going] [--outcomes]\n"
	"                    [--fork auto|always|never]\n"
	"       pinmm explore --merge [--json] SHARD.json...\n"
	"\n"
	"Runs the scenario's threads (the ones its first `run` starts) under the\n"
	"deterministic explorer: every interleaving at the engine's preemption\n"
	"points with at most K preemptions (dfs, by increasing bound; one of each\n"
	"class of schedules that differ only in the order of independent steps,\n"
	"dfs-plain every schedule), or random priority schedules (pct). A\n"
	"counterexample is printed with its schedule string, a replay command and\n"
	"the trace of the failing execution.\n"
	"\n"
	"  --policy P      strict, legacy, or either with ,+switch / ,-switch changes\n"
	"                  (default: the scenario's policy line, else strict)\n"
	"  --bound K       dfs: most preemptions per schedule (default: the\n"
	"                  scenario's `explore bound=K`, else 2); none: every\n"
	"                  interleaving\n"
	"  --strategy S    dfs (default: with partial-order reduction), dfs-plain\n"
	"                  or pct\n"
	"  --seed S        pct: random seed (default 1)\n"
	"  --depth D       pct: priority change points + 1 (default 3)\n"
	"  --budget SEC    stop after SEC seconds (dfs: then not exhausted;\n"
	"                  default 600 for dfs)\n"
	"  --max-executions N  stop after N executions (pct default: 1000)\n"
	"  --json          machine-readable, trace events included\n"
	"  --progress      a progress line on stderr every 5 s when stderr is not\n"
	"                  a terminal (on a terminal one live line is always shown)\n"
	"  --dot FILE      the counterexample's trace as Graphviz DOT; FILE.svg too\n"
	"                  when `dot` is installed\n"
	"  --shard K/N     run part K (1..N) of the search: shards on N cores or hosts\n"
	"                  together run what one search runs (write each with --json)\n"
	"  --keep-going    do not stop at a counterexample: run the whole search and\n"
	"                  report every distinct failure with its first schedule\n"
	"  --fork MODE     where executions start: always runs the set-up once and\n"
	"                  forks each execution from it; never runs the set-up for\n"
	"                  each; auto (default) times a few executions each way\n"
	"                  and goes on the faster\n"
	"  --outcomes      count the distinct end states the executions reach (the\n"
	"                  engine's state after the threads; with --json, listed)\n"
	"  --merge         merge the --json results of a campaign's shards: executions\n"
	"                  add up, exhausted when all are, counterexamples united\n"
	"\n"
	"Exit status: 0 no counterexample (dfs: exhausted), 1 counterexample found,\n"
	"2 bad input, 3 dfs stopped by its budget or execution cap before it was\n"
	"exhausted (no counterexample, nothing proved), 4 unsupported (a mechanism\n"
	"the engine has not built).\n";

const char pinmm_usage_replay[] =
	"usage: pinmm replay FILE SCHEDULE [--policy P] [--trace] [--json] [--dot FILE]\n"
	"\n"
	"Runs exactly one schedule (a string printed by `pinmm explore`; \"\" is\n"
	"the default order) and judges it as explore does.\n"
	"\n"
	"  --policy P   as for explore\n"
	"  --trace      every statement and its result, on stderr\n"
	"\n"
	"Exit status: 0 the expectations hold, 1 they fail (the counterexample\n"
	"reproduced), 2 bad input (also: a schedule that does not fit), 4 unsupported.\n";

int pinmm_cli_policy(const char *verb, const char *text, const struct pinmm_scenario *scn,
		     struct pinmm_policy *pol, char *name, size_t len)
{
	char err[200];
	enum pinmm_switch bad;

	*pol = PINMM_POLICY_STRICT;
	if (text) {
		if (pinmm_policy_parse(text, pol, err, sizeof(err))) {
			fprintf(stderr, "pinmm %s: --policy: %s\n", verb, err);
			return -EINVAL;
		}
		if (!strncmp(text, "strict", 6) && pinmm_policy_validate(*pol, &bad)) {
			fprintf(stderr, "pinmm %s: --policy: switch %s is not implemented by the "
				"engine yet\n", verb, pinmm_switch_name(bad));
			return -EINVAL;
		}
	} else {
		pinmm_scenario_default_policy(scn, pol);
	}
	pinmm_policy_format(*pol, name, len);
	return 0;
}

/* A live line on a terminal; with --progress elsewhere, a line every 5 s. */
static bool progress_lines;

static void progress(const struct pinmm_explore_progress *p, void *arg)
{
	const struct pinmm_explore_cfg *cfg = arg;
	static double last_line;
	char frac[48] = "", stage[48];

	if (progress_lines && p->seconds - last_line < 5)
		return;
	last_line = p->seconds;
	if (p->fraction >= 0)
		snprintf(frac, sizeof(frac), ", %s%.0f%% done",
			 cfg->strategy == PINMM_EXPLORE_PCT ? "" : "~", 100 * p->fraction);
	if (cfg->strategy == PINMM_EXPLORE_PCT)
		snprintf(stage, sizeof(stage), "no bound");
	if (cfg->strategy != PINMM_EXPLORE_PCT && cfg->bound != PINMM_EXPLORE_UNBOUNDED)
		snprintf(stage, sizeof(stage), "bound %u of %u", p->bound, cfg->bound);
	fprintf(stderr, "%s%lu executions, %.0f/s, %s%s, %.1f s%s",
		progress_lines ? "pinmm explore: " : "\r\033[K", p->executions,
		p->seconds > 0 ? (double)p->executions / p->seconds : 0.0, stage, frac,
		p->seconds, progress_lines ? "\n" : "");
	fflush(stderr);
}

/* The counterexample's trace as DOT in path, and as SVG next to it when
 * Graphviz is installed (not a dependency: without it, DOT only). */
static int write_dot(const char *path, const struct pinmm_scenario *scn,
		     const struct pinmm_scn_explore_result *r)
{
	FILE *f = fopen(path, "w");
	char svg[4096];

	if (!f) {
		fprintf(stderr, "pinmm: --dot %s: %s\n", path, strerror(errno));
		return -errno;
	}
	pinmm_report_trace_dot(f, scn, r);
	if (fclose(f)) {
		fprintf(stderr, "pinmm: --dot %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	snprintf(svg, sizeof(svg), "%.*s.svg",
		 (int)(strlen(path) > 4 && !strcmp(path + strlen(path) - 4, ".dot")
		       ? strlen(path) - 4 : strlen(path)), path);
	if (pm_dot_to_svg(path, svg) == 0)
		fprintf(stderr, "pinmm: trace written to %s and %s\n", path, svg);
	else
		fprintf(stderr, "pinmm: trace written to %s (no SVG: Graphviz `dot` not found)\n",
			path);
	return 0;
}

static int exit_of(const struct pinmm_scn_explore_result *r, bool dfs_search)
{
	if (r->ex.found && r->run.outcome == PINMM_SCN_UNSUPPORTED)
		return EXIT_UNSUPPORTED;
	if (r->ex.found)
		return EXIT_FOUND;
	/* a dfs that ran out of its budget proved nothing: not a pass */
	return dfs_search && !r->ex.exhausted ? EXIT_INCOMPLETE : EXIT_OK;
}

enum { O_POLICY = 'p', O_BOUND = 'b', O_STRATEGY = 's', O_SEED = 'S', O_DEPTH = 'd',
       O_BUDGET = 'B', O_MAX = 'm', O_JSON = 'J', O_DOT = 'D', O_TRACE = 't', O_HELP = 'h',
       O_PROGRESS = 'P', O_SHARD = 'K', O_KEEP_GOING = 'k', O_MERGE = 'M',
       O_OUTCOMES = 'O', O_FORK = 'F' };

static const struct option explore_opts[] = {
	{ "policy", required_argument, NULL, O_POLICY },
	{ "bound", required_argument, NULL, O_BOUND },
	{ "strategy", required_argument, NULL, O_STRATEGY },
	{ "seed", required_argument, NULL, O_SEED },
	{ "depth", required_argument, NULL, O_DEPTH },
	{ "budget", required_argument, NULL, O_BUDGET },
	{ "max-executions", required_argument, NULL, O_MAX },
	{ "json", no_argument, NULL, O_JSON },
	{ "dot", required_argument, NULL, O_DOT },
	{ "trace", no_argument, NULL, O_TRACE },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "shard", required_argument, NULL, O_SHARD },
	{ "keep-going", no_argument, NULL, O_KEEP_GOING },
	{ "outcomes", no_argument, NULL, O_OUTCOMES },
	{ "fork", required_argument, NULL, O_FORK },
	{ "merge", no_argument, NULL, O_MERGE },
	{ "help", no_argument, NULL, O_HELP },
	{ 0 },
};

static int run_verb(int argc, char **argv, bool replay)
{
	const char *usage = replay ? pinmm_usage_replay : pinmm_usage_explore;
	const char *verb = replay ? "replay" : "explore";
	struct pinmm_report_options ropt = { .colour = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") };
	struct pinmm_scn_explore_options opt = { .cfg = { .strategy = PINMM_EXPLORE_DFS,
							   .fork = PINMM_EXPLORE_FORK_AUTO } };
	struct pinmm_scn_explore_result res;
	struct pinmm_scenario *scn;
	const char *policy = NULL, *dot = NULL, *schedule = NULL;
	char err[PINMM_SCN_ERRLEN], pname[256];
	bool bound_given = false, seed_given = false, merge = false;
	int nr_json_opts = 0;
	unsigned long v;
	int o, ret;

	opt.cfg.seed = 1;
	optind = 1;
	while ((o = pm_cli_getopt(verb, argc, argv, "p:h", explore_opts)) != -1) {
		switch (o) {
		case O_POLICY:
			policy = optarg;
			break;
		case O_JSON:
			ropt.format = PINMM_REPORT_JSON;
			nr_json_opts++;
			break;
		case O_DOT:
			dot = optarg;
			break;
		case O_HELP:
			fputs(usage, stdout);
			return EXIT_OK;
		case O_TRACE:
			if (!replay)
				goto bad;
			opt.trace = stderr;
			break;
		case O_PROGRESS:
			if (replay)
				goto bad;
			progress_lines = true;
			break;
		case O_SHARD:
			if (replay)
				goto bad;
			if (pinmm_explore_parse_shard(verb, optarg, &opt.cfg.shard,
						      &opt.cfg.nr_shards))
				return EXIT_BAD;
			break;
		case O_KEEP_GOING:
			if (replay)
				goto bad;
			opt.cfg.keep_going = true;
			break;
		case O_MERGE:
			if (replay)
				goto bad;
			merge = true;
			break;
		case O_OUTCOMES:
			if (replay)
				goto bad;
			opt.cfg.outcomes = true;
			break;
		case O_FORK:
			if (replay)
				goto bad;
			if (!strcmp(optarg, "auto"))
				opt.cfg.fork = PINMM_EXPLORE_FORK_AUTO;
			else if (!strcmp(optarg, "always"))
				opt.cfg.fork = PINMM_EXPLORE_FORK_ALWAYS;
			else if (!strcmp(optarg, "never"))
				opt.cfg.fork = PINMM_EXPLORE_FORK_NEVER;
			else {
				fprintf(stderr, "pinmm %s: --fork: '%s' is not auto, always or never\n",
					verb, optarg);
				return EXIT_BAD;
			}
			break;
		case O_BOUND:
			if (replay)
				goto bad;
			if (!strcmp(optarg, "none")) {
				v = PINMM_EXPLORE_UNBOUNDED;
			} else if (pm_cli_ulong(verb, "--bound", optarg, 0, PINMM_EXPLORE_MAX_BOUND,
						&v)) {
				fprintf(stderr, "pinmm explore: --bound: or none, for every "
					"interleaving\n");
				return EXIT_BAD;
			}
			opt.cfg.bound = (unsigned)v;
			bound_given = true;
			break;
		case O_STRATEGY:
			if (replay)
				goto bad;
			if (!strcmp(optarg, "dfs")) {
				opt.cfg.strategy = PINMM_EXPLORE_DFS;
			} else if (!strcmp(optarg, "dfs-plain")) {
				opt.cfg.strategy = PINMM_EXPLORE_DFS_PLAIN;
			} else if (!strcmp(optarg, "pct")) {
				opt.cfg.strategy = PINMM_EXPLORE_PCT;
			} else {
				fprintf(stderr, "pinmm explore: --strategy: expected dfs, dfs-plain or "
					"pct, got '%s'\n", optarg);
				return EXIT_BAD;
			}
			break;
		case O_SEED:
			if (replay)
				goto bad;
			if (pm_cli_ulong(verb, "--seed", optarg, 0, ULONG_MAX, &v))
				return EXIT_BAD;
			opt.cfg.seed = v;
			seed_given = true;
			break;
		case O_DEPTH:
			if (replay)
				goto bad;
			if (pm_cli_ulong(verb, "--depth", optarg, 1, 16, &v))
				return EXIT_BAD;
			opt.cfg.depth = (unsigned)v;
			break;
		case O_BUDGET:
			if (replay)
				goto bad;
			if (pm_cli_seconds(verb, "--budget", optarg, &opt.cfg.budget_seconds))
				return EXIT_BAD;
			break;
		case O_MAX:
			if (replay)
				goto bad;
			if (pm_cli_ulong(verb, "--max-executions", optarg, 0, ULONG_MAX, &v))
				return EXIT_BAD;
			opt.cfg.max_executions = v;
			break;
		default:
			goto bad;
		}
	}
	if (merge) {
		/* only --json goes with --merge: the rest is in the shards' files */
		if (optind == argc || optind != nr_json_opts + 2) {
			fprintf(stderr, "pinmm explore: --merge takes SHARD.json files and "
				"--json only\n");
			return EXIT_BAD;
		}
		ret = pinmm_explore_merge(stdout, argv + optind, argc - optind,
					  ropt.format == PINMM_REPORT_JSON);
		return ret < 0 ? EXIT_BAD : ret;
	}
	if (optind + (replay ? 2 : 1) != argc)
		goto bad;
	(void)seed_given;
	if (replay)
		schedule = argv[optind + 1];
	if (pinmm_scenario_load(argv[optind], &scn, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_BAD;
	}
	if (pinmm_cli_policy(verb, policy, scn, &opt.policy, pname, sizeof(pname))) {
		pinmm_scenario_free(scn);
		return EXIT_BAD;
	}
	if (!pinmm_scenario_explorable(scn)) {
		fprintf(stderr, "pinmm %s: %s: no `thread` blocks and `run` to explore "
			"(use pinmm run)\n", verb, pinmm_scenario_file(scn));
		pinmm_scenario_free(scn);
		return EXIT_BAD;
	}
	if (!bound_given)
		opt.cfg.bound = pinmm_scenario_explore_bound(scn) ? pinmm_scenario_explore_bound(scn)
								  : 2;
	if (opt.cfg.nr_shards > 1 && opt.cfg.bound == PINMM_EXPLORE_UNBOUNDED &&
	    opt.cfg.strategy != PINMM_EXPLORE_PCT) {
		fprintf(stderr, "pinmm explore: --bound none does not go with --shard\n");
		pinmm_scenario_free(scn);
		return EXIT_BAD;
	}
	/* shards split the plain search's tree (the reduction's cannot be cut
	 * up in advance): say so in the report */
	if (opt.cfg.nr_shards > 1 && opt.cfg.strategy == PINMM_EXPLORE_DFS)
		opt.cfg.strategy = PINMM_EXPLORE_DFS_PLAIN;
	if (!replay && opt.cfg.strategy != PINMM_EXPLORE_PCT && !opt.cfg.budget_seconds)
		opt.cfg.budget_seconds = DEFAULT_BUDGET_SECONDS;
	if (!replay && (isatty(STDERR_FILENO) || progress_lines)) {
		progress_lines = !isatty(STDERR_FILENO);
		opt.cfg.progress = progress;
		opt.cfg.progress_arg = &opt.cfg;
	}
	ret = replay ? pinmm_scenario_replay(scn, &opt, schedule, &res)
		     : pinmm_scenario_explore(scn, &opt, &res);
	if (opt.cfg.progress && !progress_lines)
		fputs("\r\033[K", stderr);
	if (ret) {
		if (ret == -EINVAL && !replay)
			fprintf(stderr, "pinmm %s: more threads than the explorer runs (%d)\n",
				verb, PINMM_EXPLORE_MAX_THREADS);
		else
			fprintf(stderr, "pinmm %s: %s\n", verb,
				ret == -EINVAL ? "the schedule is not a schedule string (STEP:THREAD,...)"
				: ret == -EOPNOTSUPP && pinmm_scenario_explorer_built()
				? "--fork always: a ThreadSanitizer build cannot fork executions"
				: ret == -EOPNOTSUPP ? "this pinmm was built without the explorer"
				: strerror(-ret));
		pinmm_scenario_free(scn);
		return ret == -ENOMEM ? EXIT_FOUND : EXIT_BAD;
	}
	if (replay && res.ex.aborted && strstr(res.ex.message, "replay diverged")) {
		fprintf(stderr, "pinmm replay: %s: the schedule does not fit this scenario "
			"under %s: %s\n", pinmm_scenario_file(scn), pname,
			strstr(res.ex.message, "replay diverged"));
		ret = EXIT_BAD;
	} else {
		if (ropt.format != PINMM_REPORT_TEXT)
			ropt.colour = false;
		pinmm_report_explore(stdout, scn, pname, &opt, &res, replay, &ropt);
		ret = exit_of(&res, !replay && opt.cfg.strategy != PINMM_EXPLORE_PCT);
		if (dot && res.ex.trace_len)
			write_dot(dot, scn, &res);
		else if (dot)
			fprintf(stderr, "pinmm %s: no counterexample: no trace for --dot\n", verb);
	}
	pinmm_scn_explore_result_free(&res);
	pinmm_scenario_free(scn);
	return ret;
bad:
	fputs(usage, stderr);
	return EXIT_BAD;
}

int pinmm_cmd_explore(int argc, char **argv)
{
	return run_verb(argc, argv, false);
}

int pinmm_cmd_replay(int argc, char **argv)
{
	return run_verb(argc, argv, true);
}
