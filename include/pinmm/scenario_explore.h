/* SPDX-License-Identifier: MIT */
/*
 * pinmm/scenario_explore.h - a scenario's threads under the deterministic
 * explorer (pinmm/explore.h): `pinmm explore`, `pinmm replay` and the
 * explore cells of `pinmm check`.
 *
 * One execution: a fresh interpreter on a fresh engine runs the statements
 * before the scenario's first `run` (setup), the explorer's threads run
 * the `thread` blocks that `run` starts, one explorer thread each (no
 * pthreads of the interpreter), then the statements after `run` and the
 * end of the scenario (every pin released, invariants, no leak) judge the
 * execution: the first failure, "FILE:LINE: STATEMENT: what", is the
 * counterexample's message. Later `run`s, if any, run with real threads.
 *
 * These functions work in the explore build of the scenario library
 * (pinmm_scenario_explore, linked with the pinmm_explore engine: the CLI);
 * elsewhere they return -EOPNOTSUPP.
 */
#ifndef PINMM_SCENARIO_EXPLORE_H
#define PINMM_SCENARIO_EXPLORE_H

#include <pinmm/explore.h>
#include <pinmm/scenario.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pinmm_scn_explore_options {
	struct pinmm_policy policy;
	struct pinmm_explore_cfg cfg;	/* strategy, bound, seed, budget, ... */
	FILE *trace;			/* replay: every statement, as `run --trace` */
};

struct pinmm_scn_explore_result {
	struct pinmm_explore_result ex;	/* executions, exhausted, found, schedule, trace */
	/* the failing execution's scenario result (every message), or the
	 * last execution's when none failed */
	struct pinmm_scn_result run;
	unsigned nr_threads;		/* explorer thread i runs thread_names[i] */
	const char *thread_names[PINMM_EXPLORE_MAX_THREADS];
};

/* true when the library was built with the explorer */
bool pinmm_scenario_explorer_built(void);
/* The scenario has threads and a `run` to explore. */
bool pinmm_scenario_explorable(const struct pinmm_scenario *scn);

/* Search (opt->cfg). 0 with *res filled (free it), -EINVAL (no threads, more
 * than PINMM_EXPLORE_MAX_THREADS, bad cfg), -ENOMEM, -EOPNOTSUPP. When an
 * execution reached a mechanism the engine has not built, the search stops
 * there: res->ex.found is set and res->run.outcome is UNSUPPORTED. */
int pinmm_scenario_explore(const struct pinmm_scenario *scn,
			   const struct pinmm_scn_explore_options *opt,
			   struct pinmm_scn_explore_result *res);
/* Run exactly one schedule string (as printed by explore). res->ex.found:
 * the execution failed. */
int pinmm_scenario_replay(const struct pinmm_scenario *scn,
			  const struct pinmm_scn_explore_options *opt,
			  const char *schedule, struct pinmm_scn_explore_result *res);
void pinmm_scn_explore_result_free(struct pinmm_scn_explore_result *res);

/* Output: text (the summary, the schedule, the trace) or JSON (the same,
 * trace events included). replay: a replay's result. */
int pinmm_report_explore(FILE *out, const struct pinmm_scenario *scn, const char *policy,
			 const struct pinmm_scn_explore_options *opt,
			 const struct pinmm_scn_explore_result *res, bool replay,
			 const struct pinmm_report_options *ropt);

/* `--shard K/N`: 0, or -EINVAL with the reason on stderr (K from 1 to N). */
int pinmm_explore_parse_shard(const char *verb, const char *arg, unsigned *shard,
			      unsigned *count);
/* Merge the JSON results of a campaign's shards (explore --shard K/N
 * --json): text or JSON on out. The exit status explore would give (0, 1
 * a counterexample, 3 a DFS not exhausted or a shard missing), or -EINVAL
 * (unreadable, not one campaign: reason on stderr), -ENOMEM. */
int pinmm_explore_merge(FILE *out, char *const *paths, int nr, bool json);

/* The counterexample's trace as a Graphviz sequence diagram: one lane per
 * thread (named), one node per step (its point, object, value, and the
 * scenario line and statement that issued it), a red edge at each switch. */
int pinmm_report_trace_dot(FILE *out, const struct pinmm_scenario *scn,
			   const struct pinmm_scn_explore_result *res);

#ifdef __cplusplus
}
#endif
#endif
