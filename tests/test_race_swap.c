/* SPDX-License-Identifier: MIT */
/*
 * Two swap-ins of one slot at once, staged with the explore build's
 * preemption-point hook: after fork, parent and child both refer to a
 * swapped-out page. The child's swap-in finds nothing cached for the slot
 * (swapin-missed) and, before it reads the slot, the parent swaps the same
 * slot in. The child must then map the parent's page, from the swap cache:
 * one page, mapped twice, shared copy-on-write. Reading its own copy would
 * give two pages for one entry, and a write through either would no longer
 * be a COW break but two pages drifting apart with no rmap between them.
 */
#include "helpers.h"

#include <pthread.h>

#include "base/preempt.h"

struct stage {
	struct pinmm_mm *other;
	uint64_t a;
	enum pm_point at;
	bool fired;
	int err;
	uint8_t seen;
};

static __thread bool in_hook;

/* The other swap-in runs on a thread of its own, as it would: run inline,
 * it would take the parent's mmap_lock under the child's. */
static void *other_swapin(void *arg)
{
	struct stage *st = arg;

	in_hook = true;
	st->err = pinmm_load(st->other, st->a, &st->seen, 1);
	return NULL;
}

static void hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct stage *st = arg;
	pthread_t t;

	(void)obj;
	(void)val;
	if (in_hook || st->fired || pt != st->at)
		return;
	st->fired = true;
	st->err = -1;
	if (pthread_create(&t, NULL, other_swapin, st) == 0)
		pthread_join(t, NULL);
}

static void race_case(struct pinmm_policy p)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_swapped_out(mm, 1, 0x5e);
	struct pinmm_mm *child = fork_mm(mm);
	struct stage st = { .other = mm, .a = a, .at = PM_PT_SWAPIN_MISSED };

	pm_preempt_set_hook(hook, &st);
	uint8_t v = load8(child, a);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(st.err, 0);
	assert_int_equal(st.seen, 0x5e);
	assert_int_equal(v, 0x5e);
	/* one page for the one entry */
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	assert_int_equal(finfo_at(mm, a).mapcount, 2);
	assert_false(follow(mm, a).anon_exclusive);
	assert_false(follow(child, a).anon_exclusive);
	assert_invariants(eng);
	store8(child, a, 0x5f);
	assert_int_equal(load8(mm, a), 0x5e);
	store8(mm, a + 1, 0x60);
	assert_int_equal(load8(child, a + 1), 0x5e);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void concurrent_swapins_map_one_page(void **s)
{
	(void)s;
	race_case(policy_strict());
}

/* The swap cache is no fix switch: legacy shares the page the same way. */
static void concurrent_swapins_map_one_page_legacy(void **s)
{
	(void)s;
	race_case(policy_legacy_implemented());
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_swapins_map_one_page),
		cmocka_unit_test(concurrent_swapins_map_one_page_legacy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
