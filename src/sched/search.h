/* SPDX-License-Identifier: MIT */
/*
 * A search under way (explore build only): what explore.c (PCT, replay,
 * the entry points) and dfs.c (depth-first search, shards) share.
 */
#ifndef PM_SCHED_SEARCH_H
#define PM_SCHED_SEARCH_H

#include "sched.h"

struct pm_search {
	const struct pinmm_explore_ops *ops;
	void *ctx;
	const struct pinmm_explore_cfg *cfg;
	struct pinmm_explore_result *res;
	double start, last_progress;
	struct pm_fork_server *fs;	/* executions forked from a template */
	/* --fork auto: a few executions at home, then a few forked, timed;
	 * the faster way runs the rest (both give the same executions); the
	 * fastest execution of each */
	unsigned trial_home, trial_forked;
	double best_home, best_forked;
	bool decided;
};

/* Whether choosing t at decision d keeps the schedule within the bound. */
static inline bool pm_search_allowed(const struct pm_decision *d, int t, unsigned bound)
{
	int cur = d->current == 0xff ? -1 : d->current;
	bool preempts = cur >= 0 && (d->enabled & (1u << cur)) && t != cur;

	return bound == PINMM_EXPLORE_UNBOUNDED || d->preemptions + (unsigned)preempts <= bound;
}

double pm_now(void);
/* Judge an execution whose threads ran on run->state: an aborted one fails
 * with its why; else its end state when asked (*has_outcome), then
 * check(). At home and in a fork server's child alike. */
void pm_search_judge(struct pm_sched_run *run, bool want_outcome, uint64_t *outcome,
		     bool *has_outcome, bool *failed, char *msg, size_t len);
/* Run one execution; *failed set when check() (or the scheduler) says so. */
int pm_search_execute(struct pm_search *s, struct pm_sched_run *run, bool *failed,
		      char *msg, size_t len);
/* A failing execution: counted, and kept when its message is new (the
 * first failure also with its trace). 0 or -ENOMEM. */
int pm_search_failed(struct pm_search *s, const struct pm_sched_run *run, const char *msg,
		     unsigned bound, unsigned long prefix, unsigned long index);
/* Report progress when it is time; true when the budget is spent. */
bool pm_search_tick(struct pm_search *s, unsigned bound, double fraction);

/* dfs.c: every schedule within the bound */
int pm_explore_dfs(struct pm_search *s);
/* dpor.c: one schedule of each class of equivalent ones */
int pm_explore_dpor(struct pm_search *s);

#endif
