/* SPDX-License-Identifier: MIT */
/*
 * fork while a page is under migration, staged with the explore build's
 * preemption-point hook: the migrator has unmapped the page into a
 * migration entry (which remembers whether the page was exclusive) when
 * the process forks. fork copies the migration entry into the child and
 * must drop the exclusive marker on both sides: when the migrator maps the
 * new page back, parent and child share it copy-on-write. Kept exclusive,
 * both would map it writable-by-reuse and the child's store would land in
 * the parent's page (a mutation that kept the marker survived the suite
 * before this test).
 */
#include "helpers.h"

#include "base/preempt.h"

struct stage {
	struct pinmm_mm *mm, *child;
	const void *folio;	/* the migrating page's descriptor */
	int gets;		/* its count checks seen so far */
	bool fired;
	int fork_err;
};

static __thread bool in_hook;

/* In the migrator: the count check after the last unmap (the page is
 * reachable only through migration entries now). The first reference
 * point on the page is pinmm_migrate()'s own folio_get(), taken under the
 * page-table lock and mmap_lock: not there. */
static void hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct stage *st = arg;

	(void)val;
	if (in_hook || st->fired || pt != PM_PT_REF_GET || obj != st->folio || ++st->gets != 2)
		return;
	st->fired = true;
	in_hook = true;
	st->fork_err = pinmm_fork(st->mm, &st->child);
	in_hook = false;
}

static void fork_during_migration(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct stage st = { .mm = mm };

	fill(mm, a, 0x21, PG);
	assert_true(follow(mm, a).anon_exclusive);
	uint64_t old_pfn = pfn_at(mm, a);
	st.folio = follow(mm, a).page;	/* a small folio: its own head */

	pm_preempt_set_hook(hook, &st);
	int r = pinmm_migrate(mm, a);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(st.fork_err, 0);
	assert_int_equal(r, 0);
	assert_int_not_equal(pfn_at(mm, a), old_pfn);
	/* one page, shared copy-on-write: neither side may reuse it */
	assert_int_equal(pfn_at(st.child, a), pfn_at(mm, a));
	assert_false(follow(mm, a).anon_exclusive);
	assert_false(follow(st.child, a).anon_exclusive);
	assert_invariants(eng);
	store8(st.child, a, 0x99);
	assert_int_equal(load8(mm, a), 0x21);
	store8(mm, a + 1, 0x55);
	assert_int_equal(load8(st.child, a + 1), 0x21);
	assert_invariants(eng);
	pinmm_mm_exit(st.child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fork_during_migration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
