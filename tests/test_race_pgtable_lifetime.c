/* SPDX-License-Identifier: MIT */
/*
 * Lockless page-table walkers against a PTE table khugepaged set aside.
 *
 * GUP-fast and pte_table_lock() (every rmap walker's way to a PTE table)
 * read a PMD entry inside an RCU read section and use the table it points
 * at afterwards. A collapse clears that entry and deposits the emptied
 * table for a later split; a zap of the new THP withdraws it again. The
 * zap used to free it at once, as if no one could ever have seen it: a
 * walker that read the entry before the collapse then locked a destroyed
 * mutex (TSan: the soak's mixers, reclaim's referenced walk against a
 * fork child's exit) or read freed entries. Now a withdrawn table goes
 * after a grace period.
 *
 * Staged with the explore build's hook: right after the walker reads the
 * PMD entry, it waits while another thread collapses the range and zaps
 * the THP. The freed table is what ASan (heap-use-after-free) and TSan (a
 * destroyed mutex) report; CI runs these tests under both. In every build
 * the walk must come back cleanly and leave the counts right.
 */
#include "helpers.h"

#include <pthread.h>

#include "base/preempt.h"
#include "mm/mm.h"

#define HP PINMM_PMD_SIZE

struct collapse_stage {
	struct pinmm_mm *mm;		/* whose table goes */
	uint64_t addr;			/* its 2 MiB range */
	pte_t entry;			/* the PMD entry of its PTE table */
	bool fired;
	int collapse_err, zap_err;
};

/* Collapse the range (the table is deposited) and zap the THP (the table
 * is withdrawn). */
static void *collapse_and_zap(void *arg)
{
	struct collapse_stage *st = arg;

	st->collapse_err = pinmm_madvise(st->mm, st->addr, HP, PINMM_MADV_COLLAPSE);
	st->zap_err = pinmm_madvise(st->mm, st->addr, HP, PINMM_MADV_DONTNEED);
	return NULL;
}

/* The walker just read the PMD entry of the table: it waits while another
 * thread collapses and zaps (that thread needs the mm's mmap_lock, which
 * the walker's locks may not be held across). */
static void collapse_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct collapse_stage *st = arg;
	pthread_t t;

	(void)obj;
	if (st->fired || pt != PM_PT_PMD_READ || val != st->entry)
		return;
	st->fired = true;
	assert_int_equal(pthread_create(&t, NULL, collapse_and_zap, st), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* 2 MiB of small pages, one in every eight written, collapsible. Sparse
 * on purpose (not test_thp's every page): reclaim's sweep in pfn order
 * must reach a page of the parent's before any of the child's copies,
 * which the child's collapse would find held; with every page written it
 * does not, and the collapse answers -EAGAIN. */
static uint64_t map_collapsible(struct pinmm_mm *mm, uint8_t byte)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, HP, PROT_RW, PINMM_MAP_PRIVATE |
				    PINMM_MAP_NOHUGEPAGE | PINMM_MAP_ALIGN_2M, &a), 0);
	for (uint64_t off = 0; off < HP; off += 8 * PG)
		store8(mm, a + off, byte);
	assert_false(follow(mm, a).huge);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_HUGEPAGE), 0);
	return a;
}

static pte_t pte_table_entry(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *pte = pte_table_lookup(mm, addr, NULL);

	assert_non_null(pte);
	return mk_table_entry(pte);
}

static void assert_stage_ran(const struct collapse_stage *st)
{
	assert_true(st->fired);
	assert_int_equal(st->collapse_err, 0);
	assert_int_equal(st->zap_err, 0);
}

/*
 * Reclaim's first sweep walks the rmap of the parent's page for its young
 * bits. The anon_vma reaches the fork child's VMA too, whose table at the
 * same address maps the child's own copies (written after the fork): the
 * child's range collapses and goes while the walk is between reading the
 * child's PMD entry and locking the table behind it.
 */
static void rmap_walker_vs_collapse_and_zap(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_collapsible(mm, 0x11);
	struct pinmm_mm *child = fork_mm(mm);

	/* the child's own copies: its table maps nothing the walk holds */
	for (uint64_t off = 0; off < HP; off += 8 * PG)
		store8(child, a + off, 0x22);
	struct collapse_stage st = { .mm = child, .addr = a,
				     .entry = pte_table_entry(child, a) };

	pm_preempt_set_hook(collapse_hook, &st);
	long r = pinmm_reclaim(eng, 1);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(r >= 0);
	assert_stage_ran(&st);
	assert_int_equal(load8(child, a), 0);
	assert_int_equal(load8(mm, a), 0x11);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * GUP-fast read the PMD entry and is about to read the PTE table behind
 * it when the range collapses and goes: it must fail its PMD recheck and
 * leave the pin to the slow path, which faults a fresh page in.
 */
static void gup_fast_vs_collapse_and_zap(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_collapsible(mm, 0x33);
	struct collapse_stage st = { .mm = mm, .addr = a, .entry = pte_table_entry(mm, a) };
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pm_preempt_set_hook(collapse_hook, &st);
	int r = pinmm_pin(mm, &pin, a + 8 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	pm_preempt_set_hook(NULL, NULL);
	assert_int_equal(r, 0);
	assert_stage_ran(&st);
	assert_int_equal(load8(mm, a + 8 * PG), 0);	/* the fresh page */
	assert_coherent(&pin, mm, a + 8 * PG);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rmap_walker_vs_collapse_and_zap),
		cmocka_unit_test(gup_fast_vs_collapse_and_zap),
	};

	tests_filter_from_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
