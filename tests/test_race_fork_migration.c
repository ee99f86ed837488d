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
 *
 * And a fault that finds a migrating page-cache page in the cache: the
 * page's entries are migration entries, but another process that maps the
 * file and has not touched that page yet looks it up in the page cache and
 * maps it. The migrator must see that reference before it moves the cache
 * slot (Linux freezes the count); it used to check the count once, before,
 * and moved the slot regardless: the late mapping kept the old page, no
 * longer in the page cache (found by the soak's mixers: "the rmap would
 * not find this mapping", an unowned page in a file mapping).
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

struct cache_stage {
	struct pinmm_mm *other;
	uint64_t b;		/* the other process's mapping of the page */
	const void *folio;
	int gets;
	bool fired;
	uint8_t seen;
};

static void cache_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct cache_stage *st = arg;

	(void)val;
	if (in_hook || st->fired || pt != PM_PT_REF_GET || obj != st->folio || ++st->gets != 2)
		return;
	st->fired = true;
	in_hook = true;
	st->seen = load8(st->other, st->b);	/* faults it in from the page cache */
	in_hook = false;
}

static void fault_from_cache_during_migration(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *other = make_mm(eng);
	struct pinmm_file *f;
	uint64_t a, b;

	assert_int_equal(pinmm_file_create(eng, PG, 0x6b, &f), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW, PINMM_MAP_SHARED, f, 0, &a), 0);
	assert_int_equal(pinmm_mmap_file(other, 0, PG, PROT_RW, PINMM_MAP_SHARED, f, 0, &b), 0);
	assert_int_equal(load8(mm, a), 0x6b);
	assert_false(follow(other, b).present);
	struct cache_stage st = { .other = other, .b = b, .folio = follow(mm, a).page };

	pm_preempt_set_hook(cache_hook, &st);
	int r = pinmm_migrate(mm, a);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(st.seen, 0x6b);
	/* the late reference stops the move: both map the page the cache has */
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(pfn_at(mm, a), pfn_at(other, b));
	assert_invariants(eng);
	store8(other, b, 0x6c);
	assert_int_equal(load8(mm, a), 0x6c);
	uint8_t c;
	assert_int_equal(pinmm_file_read(f, 0, &c, 1), 0);
	assert_int_equal(c, 0x6c);
	/* and with nobody in the way it moves */
	assert_int_equal(pinmm_migrate(mm, a), 0);
	assert_int_equal(pfn_at(mm, a), pfn_at(other, b));
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(other);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fork_during_migration),
		cmocka_unit_test(fault_from_cache_during_migration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
