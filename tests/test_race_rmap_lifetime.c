/* SPDX-License-Identifier: MIT */
/*
 * rmap walkers against the end of what they walk, staged with the explore
 * build's preemption-point hook. Each walker holds a page (or an mm) but
 * not the mapping object it reaches through it; the object's last user
 * goes at the worst moment:
 *
 * - Compaction holds a page of shared anonymous memory while the last
 *   munmap drops the file behind it. Between the file's count reaching
 *   zero and the truncation clearing the page's PG_pagecache, migration
 *   met a still-cached page and took a reference on the dying file,
 *   reviving it: the file was torn down twice (double free or corruption
 *   in Release builds, a refcount of -1 under DEBUG_VM).
 * - uprobe register collects (mm, address) under the file's lock and
 *   then works under each mm's mmap_lock. It used to keep the VMA it saw
 *   under the file lock and fault through it after a munmap or exit had
 *   freed it (ASan: heap-use-after-free in the fault path).
 *
 * The hook runs the intruding operation inside the walker's thread at the
 * staged point, where that thread holds no lock the intruder needs.
 */
#include "helpers.h"

#include "base/preempt.h"
#include "daemons/daemons.h"
#include "mm/mm.h"

static __thread bool in_hook;

/* ---------------------------------------- compaction vs the last unmap --- */

struct compact_stage {
	struct pinmm *eng;
	struct pinmm_page *first;	/* the cache page truncated first */
	struct pinmm_page *isolated;	/* compaction's page, referenced */
	struct pinmm_page *target;	/* the frame it would move to */
	bool fired;
	int migrate_err;
};

/* In munmap: the truncation has put the first cached page (the file's
 * count is zero already) while the second is still cached. */
static void compact_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct compact_stage *st = arg;

	if (in_hook || st->fired || pt != PM_PT_REF_PUT || obj != st->first || val != 0)
		return;
	st->fired = true;
	in_hook = true;
	st->migrate_err = migrate_folio_to(st->eng, st->isolated, st->target);
	in_hook = false;
}

static void compaction_vs_last_unmap_of_shared_anon(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_shared(mm, 2);
	struct compact_stage st = { .eng = eng };

	fill(mm, a, 0x3c, 2 * PG);
	st.first = eng_pfn_page(eng, pfn_at(mm, a));
	st.isolated = eng_pfn_page(eng, pfn_at(mm, a + PG));
	assert_true(page_test(st.isolated, PG_pagecache));
	assert_true(folio_try_get(st.isolated));	/* compaction's isolation */
	st.target = pm_alloc_folio(eng, 0, PM_GFP_MOVABLE);
	assert_non_null(st.target);

	pm_preempt_set_hook(compact_hook, &st);
	int r = pinmm_munmap(mm, a, 2 * PG);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(r, 0);
	/* the file was dying: migration gives the page up and moves nothing */
	assert_int_equal(st.migrate_err, -EAGAIN);
	assert_false(page_test(st.isolated, PG_pagecache));
	assert_int_equal(folio_ref_count(st.isolated), 1);	/* ours alone */
	folio_put(st.isolated);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ------------------------------------------ uprobes vs munmap and exit --- */

#define PROT_RX (PINMM_PROT_READ | PINMM_PROT_EXEC)

struct uprobe_stage {
	struct pinmm_file *file;
	struct pinmm_mm *victim;	/* whose mapping goes */
	uint64_t addr;
	bool exit;			/* exit the mm rather than munmap */
	int unlocks;
	bool fired;
	int err;
};

/* In uprobe register: the file lock's second release (the first is the
 * read of the original byte) ends the collection of targets. */
static void uprobe_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct uprobe_stage *st = arg;

	(void)val;
	if (in_hook || st->fired || pt != PM_PT_UNLOCK || obj != &st->file->lock ||
	    ++st->unlocks != 2)
		return;
	st->fired = true;
	in_hook = true;
	if (st->exit)
		pinmm_mm_exit(st->victim);
	else
		st->err = pinmm_munmap(st->victim, st->addr, 2 * PG);
	in_hook = false;
}

static void uprobe_vs_mapping_gone(bool exit)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *other = make_mm(eng);
	struct pinmm_file *f;
	uint64_t a, b;

	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	assert_int_equal(pinmm_mmap_file(other, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &b), 0);
	assert_int_equal(load8(other, b + PG), 0x90);
	struct uprobe_stage st = { .file = f, .victim = mm, .addr = a, .exit = exit };

	pm_preempt_set_hook(uprobe_hook, &st);
	int r = pinmm_uprobe_register(f, PG + 0x10);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(st.err, 0);
	/* the mapping that went is skipped; the other one is probed */
	assert_int_equal(r, 0);
	assert_int_equal(load8(other, b + PG + 0x10), 0xcc);
	if (!exit)
		assert_int_equal(load_err(mm, a + PG + 0x10), -EFAULT);
	assert_invariants(eng);
	assert_int_equal(pinmm_uprobe_unregister(f, PG + 0x10), 0);
	assert_int_equal(load8(other, b + PG + 0x10), 0x90);
	pinmm_file_put(f);
	pinmm_mm_exit(other);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void uprobe_register_vs_munmap(void **state)
{
	(void)state;
	uprobe_vs_mapping_gone(false);
}

static void uprobe_register_vs_exit(void **state)
{
	(void)state;
	uprobe_vs_mapping_gone(true);
}

/* ---------------------------------------------- uprobes: lock order --- */

/*
 * uprobe register holds the mmap_lock of every mm that maps the text at
 * once. fork() takes its parent's, then its newer child's: uprobes must
 * take them oldest mm first too, whatever order the file's mappings are
 * in, or the two can deadlock (TSan's lock-order report under the soak's
 * mixers: the parent's text was mapped again after the fork, so the
 * child's mapping came first in the file's list).
 */
struct lock_order {
	const void *lock[2];
	int seen[4], n;
};

static void lock_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct lock_order *lo = arg;

	if (pt != PM_PT_LOCK || val != 1 || lo->n >= 4)
		return;	/* read acquisitions of an mmap_lock only */
	for (int i = 0; i < 2; i++)
		if (obj == lo->lock[i])
			lo->seen[lo->n++] = i;
}

static void uprobe_takes_mmap_locks_oldest_first(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *old = make_mm(eng), *young = make_mm(eng);
	struct pinmm_file *f;
	uint64_t a, b;

	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	assert_int_equal(pinmm_mmap_file(old, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	assert_int_equal(pinmm_mmap_file(young, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &b), 0);
	/* the older mm's mapping goes to the end of the file's list */
	assert_int_equal(pinmm_munmap(old, a, 2 * PG), 0);
	assert_int_equal(pinmm_mmap_file(old, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	struct lock_order lo = { .lock = { &old->mmap_lock, &young->mmap_lock } };

	pm_preempt_set_hook(lock_hook, &lo);
	int r = pinmm_uprobe_register(f, 0x10);
	pm_preempt_set_hook(NULL, NULL);
	assert_int_equal(r, 0);
	assert_true(lo.n >= 2);
	assert_int_equal(lo.seen[0], 0);	/* the older mm first */
	assert_int_equal(lo.seen[1], 1);
	assert_int_equal(load8(old, a + 0x10), 0xcc);
	assert_int_equal(load8(young, b + 0x10), 0xcc);
	pinmm_file_put(f);
	pinmm_mm_exit(young);
	pinmm_mm_exit(old);
	finish_engine(eng);
}

/*
 * uprobe register (the former __replace_page(), uprobe_write_in_place off)
 * takes a reference on the text page it will replace. It
 * used to read the entry under the page-table lock and take the reference
 * after dropping it: a migration in between freed the page and the
 * reference revived a free frame (DEBUG_VM: a get on a free frame, found
 * by the soak's mixers under ASan). Staged: the page migrates right after
 * that lock is dropped; now the reference is already held, so the
 * migration is refused and the breakpoint goes in.
 */
struct uprobe_migrate_stage {
	struct pinmm_mm *mm;
	uint64_t addr;
	const void *ptl;
	int at;		/* the unlock of ptl to stage at (0: the second) */
	int unlocks;
	bool fired;
	int migrate_err;
};

static void uprobe_migrate_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct uprobe_migrate_stage *st = arg;

	(void)val;
	if (in_hook || st->fired || pt != PM_PT_UNLOCK || obj != st->ptl ||
	    ++st->unlocks != (st->at ? st->at : 2))
		return;
	st->fired = true;
	in_hook = true;
	st->migrate_err = pinmm_migrate(st->mm, st->addr);
	in_hook = false;
}

static void uprobe_page_reference_vs_migration(void **state)
{
	(void)state;
	struct pinmm *eng = make_engine(policy_strict_without(PINMM_SW_UPROBE_WRITE_IN_PLACE));
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	uint64_t a;

	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	assert_int_equal(load8(mm, a + PG), 0x90);
	struct pt_table *pte = pte_table_lookup(mm, a + PG, NULL);
	assert_non_null(pte);
	struct uprobe_migrate_stage st = { .mm = mm, .addr = a + PG, .ptl = &pte->ptl };

	pm_preempt_set_hook(uprobe_migrate_hook, &st);
	int r = pinmm_uprobe_register(f, PG + 0x10);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(st.migrate_err, -EAGAIN);	/* the probe holds the page */
	assert_int_equal(r, 0);
	assert_int_equal(load8(mm, a + PG + 0x10), 0xcc);
	assert_invariants(eng);
	assert_int_equal(pinmm_uprobe_unregister(f, PG + 0x10), 0);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * The same in Linux 6.18's way (uprobe_write_in_place): the probe faults
 * the page in as the mapping's own, then writes into whatever page the
 * entry maps under the page-table lock. A migration staged at each release
 * of that lock in turn moves the page before, between or after: the
 * breakpoint must end up in the page mapped at the end, and every count
 * must be right.
 */
static void uprobe_in_place_vs_migration(void **state)
{
	(void)state;
	for (int at = 1; at <= 4; at++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		struct pinmm_file *f;
		uint64_t a;

		assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
		assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0,
						 &a), 0);
		assert_int_equal(load8(mm, a + PG), 0x90);
		struct pt_table *pte = pte_table_lookup(mm, a + PG, NULL);
		assert_non_null(pte);
		struct uprobe_migrate_stage st = { .mm = mm, .addr = a + PG, .ptl = &pte->ptl,
						   .at = at };

		pm_preempt_set_hook(uprobe_migrate_hook, &st);
		int r = pinmm_uprobe_register(f, PG + 0x10);
		pm_preempt_set_hook(NULL, NULL);
		assert_int_equal(r, 0);
		assert_int_equal(load8(mm, a + PG + 0x10), 0xcc);
		assert_int_equal(load8(mm, a + PG + 0x11), 0x90);
		assert_invariants(eng);
		assert_int_equal(pinmm_uprobe_unregister(f, PG + 0x10), 0);
		assert_int_equal(load8(mm, a + PG + 0x10), 0x90);
		assert_invariants(eng);
		pinmm_file_put(f);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

/*
 * Unregistering in place writes the original byte back under the
 * page-table lock, drops that lock, and then compares the page with the
 * file's to give the copy up. The comparison used to read the page with
 * nothing holding it: a migration (or zap, or COW) right after the unlock
 * freed the frame, and the read saw whatever the frame's next owner wrote
 * (TSan: the soak's mixers, a fault's zeroing against that read). Staged:
 * the migration comes at the first unlock after the write; the probe's
 * reference must refuse it and keep the frame allocated.
 */
struct uprobe_revert_stage {
	struct pinmm *eng;
	struct pinmm_mm *mm;
	uint64_t addr;
	const void *ptl;
	struct pinmm_page *copy;	/* the probed anonymous copy */
	bool fired;
	int migrate_err;
	int copy_refs;			/* its count after the migration */
};

static void uprobe_revert_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct uprobe_revert_stage *st = arg;

	(void)val;
	if (in_hook || st->fired || pt != PM_PT_UNLOCK || obj != st->ptl ||
	    eng_page_virt(st->eng, st->copy)[0x10] != 0x90)
		return;
	st->fired = true;
	in_hook = true;
	st->migrate_err = pinmm_migrate(st->mm, st->addr);
	st->copy_refs = folio_ref_count(st->copy);
	in_hook = false;
}

static void uprobe_unregister_holds_copy_while_comparing(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	uint64_t a;

	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	assert_int_equal(pinmm_uprobe_register(f, PG + 0x10), 0);
	assert_int_equal(load8(mm, a + PG + 0x10), 0xcc);
	struct pt_table *pte = pte_table_lookup(mm, a + PG, NULL);
	assert_non_null(pte);
	struct uprobe_revert_stage st = {
		.eng = eng, .mm = mm, .addr = a + PG, .ptl = &pte->ptl,
		.copy = eng_pfn_page(eng, pfn_at(mm, a + PG)),
	};

	pm_preempt_set_hook(uprobe_revert_hook, &st);
	int r = pinmm_uprobe_unregister(f, PG + 0x10);
	pm_preempt_set_hook(NULL, NULL);
	assert_int_equal(r, 0);
	assert_true(st.fired);
	assert_int_equal(st.migrate_err, -EAGAIN);	/* the comparison holds it */
	assert_true(st.copy_refs > 0);
	assert_int_equal(load8(mm, a + PG + 0x10), 0x90);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ------------------------------------ mapcount changes are race points --- */

/*
 * Every change of a page's mapcount is a preemption point (PM_PT_MAP_CHANGE,
 * with the new count): the races staged on a mapping coming or going (and
 * the explorer's interleavings) need it on the way up and on the way down.
 */
struct map_change_log {
	const struct pinmm_page *page;
	int seen[8];
	unsigned n;
};

static void map_change_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct map_change_log *log = arg;

	if (pt == PM_PT_MAP_CHANGE && obj == log->page && log->n < ARRAY_LEN(log->seen))
		log->seen[log->n++] = (int)val;
}

static void mapcount_changes_are_preemption_points(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_pin get;
	struct pinmm_page *pages[1];
	struct map_change_log log = { 0 };

	zero_pin(&get);
	assert_int_equal(pinmm_get(mm, &get, a, 1, 0, false, pages), 0);
	log.page = pages[0];
	pm_preempt_set_hook(map_change_hook, &log);
	struct pinmm_mm *child = fork_mm(mm);	/* 2 */
	pinmm_mm_exit(child);			/* 1 */
	assert_int_equal(pinmm_munmap(mm, a, PG), 0);	/* 0 */
	pm_preempt_set_hook(NULL, NULL);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.seen[0], 2);
	assert_int_equal(log.seen[1], 1);
	assert_int_equal(log.seen[2], 0);
	assert_int_equal(pinmm_put(&get), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compaction_vs_last_unmap_of_shared_anon),
		cmocka_unit_test(uprobe_register_vs_munmap),
		cmocka_unit_test(uprobe_register_vs_exit),
		cmocka_unit_test(uprobe_takes_mmap_locks_oldest_first),
		cmocka_unit_test(uprobe_page_reference_vs_migration),
		cmocka_unit_test(uprobe_in_place_vs_migration),
		cmocka_unit_test(uprobe_unregister_holds_copy_while_comparing),
		cmocka_unit_test(mapcount_changes_are_preemption_points),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
