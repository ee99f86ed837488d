/* SPDX-License-Identifier: MIT */
/*
 * matrix_explore.c - `pinmm check`'s cells for a scenario with threads and
 * `explore bound=K`: each cell is a depth-first search (with partial-order
 * reduction) at bound K under its policy instead of one run with real
 * threads; `explore bound=none`: of every interleaving.
 *
 *  - must pass (strict, holds-with): every schedule within K ran, none
 *    failed: `pass (explore, bound K)`; every interleaving: `proved`; a
 *    counterexample: UNEXPECTED (its schedule in the
 *    reason); the budget ran out first: n/a-explorer, never `pass`;
 *  - must fail (ablations, legacy when declared): a counterexample:
 *    `detected`; exhausted without one: UNEXPECTED; budget: n/a-explorer;
 *  - informational legacy: (pass) / (fails).
 *
 * The budget per cell is PINMM_EXPLORE_CELL_BUDGET seconds (default below);
 * the scenarios of scenarios/ exhaust well within it.
 */
#include <stdlib.h>
#include <string.h>

#include <pinmm/scenario_explore.h>

#define CELL_BUDGET_DEFAULT 20.0

static double cell_budget(void)
{
	const char *e = getenv("PINMM_EXPLORE_CELL_BUDGET");
	double b = e ? strtod(e, NULL) : 0;

	return b > 0 ? b : CELL_BUDGET_DEFAULT;
}

static void fail_result(struct pinmm_cell *c, const char *file, int err)
{
	memset(&c->result, 0, sizeof(c->result));
	c->result.outcome = PINMM_SCN_FAIL;
	c->result.nr_failures = c->result.nr_msgs = 1;
	snprintf(c->result.msgs[0], PINMM_SCN_MSGLEN, "%.150s: the explorer failed: %s", file,
		 strerror(-err));
}

static void judge(struct pinmm_cell *c, const struct pinmm_scn_explore_result *r,
		  unsigned bound)
{
	const struct pinmm_scn_result *res = &c->result;
	bool found = r->ex.found, fails = found && res->outcome == PINMM_SCN_FAIL;
	char how[96];

	if (bound == PINMM_EXPLORE_UNBOUNDED)
		snprintf(how, sizeof(how), "%lu executions, %.2f s, no bound", c->executions,
			 c->seconds);
	else
		snprintf(how, sizeof(how), "%lu executions, %.2f s, bound %u", c->executions,
			 c->seconds, bound);
	if (found && res->outcome == PINMM_SCN_UNSUPPORTED) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_UNBUILT;
		snprintf(c->reason, sizeof(c->reason), "%s", res->unsupported);
	} else if (!found && !c->exhausted && c->expect != PINMM_EXPECT_EITHER) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_EXPLORER;
		snprintf(c->reason, sizeof(c->reason),
			 "explorer budget: %s, NOT exhausted, no counterexample", how);
	} else if (c->expect == PINMM_EXPECT_PASS) {
		c->verdict = fails ? PINMM_VERDICT_UNEXPECTED : PINMM_VERDICT_PASS;
		if (fails)
			snprintf(c->reason, sizeof(c->reason), "%.160s [schedule %.60s]",
				 res->msgs[0], c->schedule);
		else
			snprintf(c->reason, sizeof(c->reason), "exhausted: %s", how);
	} else if (c->expect == PINMM_EXPECT_EITHER) {
		c->verdict = PINMM_VERDICT_INFO;
		snprintf(c->reason, sizeof(c->reason), "%s", fails ? res->msgs[0]
			 : c->exhausted ? "exhausted, no counterexample (nothing declared)"
			 : "budget, no counterexample (nothing declared)");
	} else if (fails) {
		c->verdict = PINMM_VERDICT_DETECTED;
		snprintf(c->reason, sizeof(c->reason), "%.150s [schedule %.60s; %lu executions]",
			 res->msgs[0], c->schedule, c->executions);
	} else {
		c->verdict = PINMM_VERDICT_UNEXPECTED;
		snprintf(c->reason, sizeof(c->reason),
			 "exhausted (%s) without a counterexample: declared to fail under %s",
			 how, c->label);
	}
}

/* The cell explored and judged: true; false when it is not an explore cell
 * (no `explore`, no threads, or a CLI built without the explorer). */
bool pm_matrix_explore_cell(const struct pinmm_scenario *scn, struct pinmm_cell *c);

bool pm_matrix_explore_cell(const struct pinmm_scenario *scn, struct pinmm_cell *c)
{
	unsigned bound = pinmm_scenario_explore_bound(scn);
	struct pinmm_scn_explore_options opt = {
		.policy = c->policy,
		.cfg = { .strategy = PINMM_EXPLORE_DFS, .bound = bound,
			 .budget_seconds = cell_budget(), .fork = PINMM_EXPLORE_FORK_AUTO },
	};
	struct pinmm_scn_explore_result r;
	int ret;

	if (!bound || !pinmm_scenario_explorer_built() || !pinmm_scenario_explorable(scn))
		return false;
	ret = pinmm_scenario_explore(scn, &opt, &r);
	c->ran = c->explored = true;
	c->bound = bound;
	c->attempts = 1;
	if (ret) {
		fail_result(c, pinmm_scenario_file(scn), ret);
		c->verdict = c->expect == PINMM_EXPECT_EITHER ? PINMM_VERDICT_INFO
							      : PINMM_VERDICT_UNEXPECTED;
		snprintf(c->reason, sizeof(c->reason), "%s", c->result.msgs[0]);
		return true;
	}
	c->executions = r.ex.executions;
	c->exhausted = r.ex.exhausted;
	c->seconds = r.ex.seconds;
	c->result = r.run;
	if (!r.ex.found) {
		/* the last execution passed: so did every one before it */
		memset(&c->result, 0, sizeof(c->result));
		c->result.outcome = PINMM_SCN_PASS;
	} else if (r.ex.aborted) {
		c->result.outcome = PINMM_SCN_FAIL;
		c->result.nr_failures = c->result.nr_msgs = 1;
		snprintf(c->result.msgs[0], PINMM_SCN_MSGLEN, "%.100s: %.120s", pinmm_scenario_file(scn),
			 r.ex.message);
	}
	snprintf(c->schedule, sizeof(c->schedule), "%s", r.ex.schedule ? r.ex.schedule : "");
	judge(c, &r, bound);
	pinmm_scn_explore_result_free(&r);
	return true;
}
