/* SPDX-License-Identifier: MIT */
/*
 * One explorer run of a race test: DFS at preemption bound 2 over the
 * test's ops. Expected clean: no counterexample, and the bounded space
 * exhausted within the budget. Expected found: a counterexample with a
 * schedule and a trace, which replays to the same failure.
 */
#ifndef PINMM_TESTS_EXPLORE_CASE_H
#define PINMM_TESTS_EXPLORE_CASE_H

#include "helpers.h"

#include <pinmm/explore.h>

static inline void explore_expect(const struct pinmm_explore_ops *ops, void *ctx,
				  const char *what, bool expect_found, unsigned budget_seconds)
{
	struct pinmm_explore_cfg cfg = { .strategy = PINMM_EXPLORE_DFS, .bound = 2,
					 .budget_seconds = budget_seconds };
	struct pinmm_explore_result r;

	assert_int_equal(pinmm_explore(ops, ctx, &cfg, &r), 0);
	print_message("    %s: %lu executions in %.2f s, %s%s\n", what, r.executions, r.seconds,
		      r.found ? "found: " : (r.exhausted ? "exhausted" : "budget"),
		      r.found ? r.message : "");
	if (!expect_found) {
		assert_false(r.found);
		assert_true(r.exhausted);
	} else {
		assert_true(r.found);
		assert_false(r.aborted);
		assert_non_null(r.schedule);
		assert_true(r.trace_len > 0);
		/* the counterexample replays, to the same failure */
		struct pinmm_explore_result again;
		assert_int_equal(pinmm_explore_replay(ops, ctx, r.schedule, &again), 0);
		assert_true(again.found);
		assert_string_equal(again.message, r.message);
		assert_string_equal(again.schedule, r.schedule);
		assert_int_equal(again.trace_len, r.trace_len);
		pinmm_explore_result_free(&again);
	}
	pinmm_explore_result_free(&r);
}

#endif
