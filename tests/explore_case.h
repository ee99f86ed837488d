/* SPDX-License-Identifier: MIT */
/*
 * One explorer run of a race test: DFS at preemption bound 2 over the
 * test's ops. Expected clean: no counterexample, and the bounded space
 * exhausted within the budget. Expected found: a counterexample with a
 * schedule and a trace, which replays to the same failure. Either way the
 * search with partial-order reduction (the default) and plain DFS, each to
 * its end, find the same failures (by message) at bound 1 (bound 2 on the
 * scenarios: scripts/por-equivalence.sh; plain DFS at 2 is slow here).
 */
#ifndef PINMM_TESTS_EXPLORE_CASE_H
#define PINMM_TESTS_EXPLORE_CASE_H

#include "helpers.h"

#include <pinmm/explore.h>

static inline void explore_same_as_plain(const struct pinmm_explore_ops *ops, void *ctx,
					 unsigned budget_seconds)
{
	struct pinmm_explore_cfg cfg = { .strategy = PINMM_EXPLORE_DFS, .bound = 1,
					 .budget_seconds = budget_seconds, .keep_going = true };
	struct pinmm_explore_result por, plain;

	assert_int_equal(pinmm_explore(ops, ctx, &cfg, &por), 0);
	cfg.strategy = PINMM_EXPLORE_DFS_PLAIN;
	assert_int_equal(pinmm_explore(ops, ctx, &cfg, &plain), 0);
	print_message("    executions: plain %lu, reduced %lu\n", plain.executions, por.executions);
	assert_true(por.exhausted);
	assert_true(plain.exhausted);
	assert_int_equal(por.found, plain.found);
	assert_int_equal(por.nr_failures, plain.nr_failures);
	for (size_t i = 0; i < plain.nr_failures; i++) {
		bool seen = false;

		for (size_t j = 0; j < por.nr_failures && !seen; j++)
			seen = !strcmp(por.failures[j].message, plain.failures[i].message);
		assert_true(seen);
	}
	pinmm_explore_result_free(&por);
	pinmm_explore_result_free(&plain);
}

static inline void explore_expect(const struct pinmm_explore_ops *ops, void *ctx,
				  const char *what, bool expect_found, unsigned budget_seconds)
{
	struct pinmm_explore_cfg cfg = { .strategy = PINMM_EXPLORE_DFS, .bound = 2,
					 .budget_seconds = budget_seconds };
	struct pinmm_explore_result r;

	explore_same_as_plain(ops, ctx, budget_seconds);
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
