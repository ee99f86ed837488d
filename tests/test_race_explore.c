/* SPDX-License-Identifier: MIT */
/*
 * The explorer against the G4/G3 races: for each, depth-first search at
 * preemption bound 2 exhausts the schedules clean in strict, and finds a
 * counterexample with the fix switch off; the counterexample replays.
 */
#define _GNU_SOURCE	/* pthread_getaffinity_np */
#include "explore_case.h"

#include <pthread.h>
#include <sched.h>

#include "sched/sched.h"

#include <time.h>

enum race { RACE_FORK, RACE_KSM, RACE_COLLAPSE, RACE_UNMAP };

struct world {
	enum race race;
	struct pinmm_policy policy;
	struct pinmm *eng;
	struct pinmm_mm *mm, *child;
	uint64_t a, b;
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];
	int pin_err;
};

struct race_ctx {
	enum race race;
	struct pinmm_policy policy;
};

static void *setup(void *arg)
{
	struct race_ctx *c = arg;
	struct world *w = calloc(1, sizeof(*w));
	struct pinmm_config cfg;

	pinmm_config_default(&cfg);
	cfg.normal_frames = 512;
	cfg.movable_frames = 1024;
	cfg.policy = c->policy;
	w->race = c->race;
	if (pinmm_create(&cfg, &w->eng) || pinmm_mm_create(w->eng, &w->mm))
		abort();
	switch (w->race) {
	case RACE_FORK:
		pinmm_mmap(w->mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &w->a);
		pinmm_store_fill(w->mm, w->a, 0x11, 1);
		break;
	case RACE_KSM:
		pinmm_mmap(w->mm, 0, 2 * PG, PROT_RW, PINMM_MAP_PRIVATE, &w->b);
		pinmm_store_fill(w->mm, w->b, 0x22, 2 * PG);
		pinmm_madvise(w->mm, w->b, 2 * PG, PINMM_MADV_MERGEABLE);
		w->a = w->b + PG;
		break;
	case RACE_COLLAPSE:
		pinmm_mmap(w->mm, 0, 2ul << 20, PROT_RW, PINMM_MAP_PRIVATE |
			   PINMM_MAP_NOHUGEPAGE | PINMM_MAP_ALIGN_2M, &w->b);
		pinmm_store_fill(w->mm, w->b, 0x33, 1);
		pinmm_store_fill(w->mm, w->b + PG, 0x33, 1);
		pinmm_madvise(w->mm, w->b, 2ul << 20, PINMM_MADV_HUGEPAGE);
		w->a = w->b + PG;
		break;
	case RACE_UNMAP:
		/* two pages share a PTE table; b is where freed frames go */
		pinmm_mmap(w->mm, 0, 2 * PG, PROT_RW, PINMM_MAP_PRIVATE, &w->a);
		pinmm_store_fill(w->mm, w->a, 0x44, 2 * PG);
		pinmm_mmap(w->mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &w->b);
		break;
	}
	return w;
}

static void thread(void *state, unsigned tid)
{
	struct world *w = state;

	if (tid == 0) {
		/* the device's driver: a fast R/W pin */
		w->pin_err = pinmm_pin(w->mm, &w->pin, w->a, 1, PINMM_FOLL_WRITE, true, w->pages);
		return;
	}
	switch (w->race) {
	case RACE_FORK:
		pinmm_fork(w->mm, &w->child);
		break;
	case RACE_KSM:
		pinmm_ksm_scan(w->eng, 2);	/* the first pass only takes checksums */
		break;
	case RACE_COLLAPSE:
		pinmm_madvise(w->mm, w->b, 2ul << 20, PINMM_MADV_COLLAPSE);
		break;
	case RACE_UNMAP:
		pinmm_munmap(w->mm, w->a, PG);
		pinmm_store_fill(w->mm, w->b, 0x55, 1);	/* may reuse the frame */
		break;
	}
}

static int check(void *state, char *msg, size_t len)
{
	struct world *w = state;
	uint8_t v;

	if (w->pin_err) {
		if (w->pin_err == -EFAULT && w->race == RACE_UNMAP)
			return 0;	/* the unmap came first */
		snprintf(msg, len, "pin failed: %d", w->pin_err);
		return 1;
	}
	if (w->race == RACE_UNMAP) {
		/* the pinned frame must not be b's */
		pinmm_dev_fill(&w->pin, 0, 0, 0xee, 1);
		pinmm_load(w->mm, w->b, &v, 1);
		if (v != 0x55) {
			snprintf(msg, len, "the device wrote into another mapping's page");
			return 1;
		}
		return 0;
	}
	/* G1: the parent (the pinner) writes; the device reads */
	enum pinmm_coherence c = pinmm_check_coherent(&w->pin, w->mm, w->a, NULL);
	if (c != PINMM_COHERENT) {
		snprintf(msg, len, "pin not coherent: %s", pinmm_coherence_str(c));
		return 1;
	}
	return 0;
}

static void teardown(void *state)
{
	struct world *w = state;

	if (pinmm_pin_held(&w->pin))
		pinmm_unpin(&w->pin);
	if (w->child)
		pinmm_mm_exit(w->child);
	pinmm_mm_exit(w->mm);
	if (pinmm_check_invariants(w->eng, NULL) || pinmm_destroy(w->eng))
		abort();	/* a broken engine is a failure of its own */
	free(w);
}

static const struct pinmm_explore_ops ops = {
	.nr_threads = 2, .setup = setup, .thread = thread, .check = check,
	.teardown = teardown,
};

static void explore_case(enum race race, struct pinmm_policy p, bool expect_found)
{
	static const char *const names[] = { "fork", "ksm", "collapse", "unmap" };
	struct race_ctx c = { race, p };

	explore_expect(&ops, &c, names[race], expect_found, 120);
}

static void fork_strict(void **s) { (void)s; explore_case(RACE_FORK, policy_strict(), false); }
static void fork_off(void **s)
{
	(void)s;
	explore_case(RACE_FORK, policy_strict_without(PINMM_SW_FORK_GUP_FAST_SEQ), true);
}
static void ksm_strict(void **s) { (void)s; explore_case(RACE_KSM, policy_strict(), false); }
static void ksm_off(void **s)
{
	(void)s;
	explore_case(RACE_KSM, policy_strict_without(PINMM_SW_KSM_CLEAR_THEN_CHECK), true);
}
static void collapse_strict(void **s) { (void)s; explore_case(RACE_COLLAPSE, policy_strict(), false); }
static void collapse_off(void **s)
{
	(void)s;
	explore_case(RACE_COLLAPSE, policy_strict_without(PINMM_SW_KHUGEPAGED_CLEAR_THEN_CHECK), true);
}
static void pmd_recheck_off(void **s)
{
	(void)s;
	explore_case(RACE_COLLAPSE, policy_strict_without(PINMM_SW_GUP_FAST_PMD_RECHECK), true);
}
static void unmap_strict(void **s) { (void)s; explore_case(RACE_UNMAP, policy_strict(), false); }
static void unmap_off(void **s)
{
	(void)s;
	explore_case(RACE_UNMAP, policy_strict_without(PINMM_SW_GUP_FAST_RECHECK), true);
}

/*
 * A fork server forks right after the explorer's scheduler is made. A
 * worker still starting then (its C library and sanitizer set-up
 * allocate) left the forked child's allocator lock taken: an ASan search
 * hung in CI. Every worker must be waiting for work when pm_sched_new()
 * returns.
 */
static void sched_workers_ready_on_return(void **s)
{
	(void)s;
	for (int i = 0; i < 50; i++) {
		struct pm_sched *sched = pm_sched_new(PINMM_EXPLORE_MAX_THREADS);

		assert_non_null(sched);
		assert_int_equal(pm_sched_ready(sched), PINMM_EXPLORE_MAX_THREADS);
		pm_sched_free(sched);
	}
}

/*
 * The controller and its workers share the CPU the controller was on (a
 * hand-over within one CPU costs half of one across two), and the
 * caller gets its own CPUs back when the scheduler goes.
 */
static void sched_runs_on_one_cpu(void **s)
{
	cpu_set_t before, during, after;
	struct pm_sched *sched;

	(void)s;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(before), &before), 0);
	if (CPU_COUNT(&before) < 2)
		skip();
	sched = pm_sched_new(2);
	assert_non_null(sched);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(during), &during), 0);
	assert_int_equal(CPU_COUNT(&during), 1);
	pm_sched_free(sched);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fork_strict),
		cmocka_unit_test(fork_off),
		cmocka_unit_test(ksm_strict),
		cmocka_unit_test(ksm_off),
		cmocka_unit_test(collapse_strict),
		cmocka_unit_test(collapse_off),
		cmocka_unit_test(pmd_recheck_off),
		cmocka_unit_test(unmap_strict),
		cmocka_unit_test(unmap_off),
		cmocka_unit_test(sched_workers_ready_on_return),
		cmocka_unit_test(sched_runs_on_one_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
