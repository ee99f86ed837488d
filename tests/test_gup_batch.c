/* SPDX-License-Identifier: MIT */
/*
 * GUP of a run of pages in one folio takes their references in one step
 * (Linux's try_grab_folio(folio, refs)), and unpin_user_pages() drops a
 * run of one folio's pages in one step: the counts must come out exactly
 * as page-by-page would leave them, on GUP-fast and the slow path, and an
 * unpin of more pages than the folio has pins releases what there is and
 * refuses the rest, never driving a count below zero.
 */
#include "helpers.h"

static uint64_t map_thp_populated(struct pinmm_mm *mm)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, 2 * PINMM_PMD_SIZE, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE, &a), 0);
	fill(mm, a, 0x3c, 2 * PINMM_PMD_SIZE);
	assert_true(follow(mm, a).huge);
	assert_true(follow(mm, a + PINMM_PMD_SIZE).huge);
	return a;
}

/* 600 pages from page 200 of the first THP: 312 of one folio, 288 of
 * the next, each folio's counts raised by exactly its share. */
static void batched_counts_case(bool fast)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_populated(mm);
	struct pinmm_page **pages = calloc(600, sizeof(*pages));
	uint64_t start = a + 200 * PG;

	assert_non_null(pages);
	long n = fast ? pinmm_pin_user_pages_fast(mm, start, 600, PINMM_FOLL_WRITE, pages)
		      : pinmm_pin_user_pages(mm, start, 600, PINMM_FOLL_WRITE, pages);
	assert_int_equal(n, 600);
	for (unsigned i = 0; i < 600; i++)
		assert_int_equal(pinmm_page_pfn(pages[i]), pfn_at(mm, start + i * PG));
	struct pinmm_folio_info f0 = finfo(pages[0]), f1 = finfo(pages[599]);
	assert_int_equal(f0.pincount, 312);
	assert_int_equal(f0.refcount, 1 + 312);	/* the PMD mapping's + ours */
	assert_int_equal(f1.pincount, 288);
	assert_int_equal(f1.refcount, 1 + 288);
	assert_invariants(eng);

	/* unpin the middle 100 (50 of each folio), then the rest */
	pinmm_unpin_user_pages(pages + 262, 100, true);
	assert_int_equal(finfo(pages[0]).pincount, 262);
	assert_int_equal(finfo(pages[599]).pincount, 238);
	pinmm_unpin_user_pages(pages, 262, true);
	pinmm_unpin_user_pages(pages + 362, 238, true);
	assert_int_equal(finfo(pages[0]).pincount, 0);
	assert_int_equal(finfo(pages[0]).refcount, 1);
	assert_int_equal(finfo(pages[599]).refcount, 1);
	assert_true(finfo(pages[0]).dirty);
	assert_invariants(eng);
	free(pages);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

static void batched_counts_fast(void **s)
{
	(void)s;
	batched_counts_case(true);
}

static void batched_counts_slow(void **s)
{
	(void)s;
	batched_counts_case(false);
}

/* Three pins of a THP, then an unpin array naming five of its pages: three
 * are released, two refused; the count stays at zero and the mapping's
 * reference is untouched. */
static void unpin_more_than_pinned_refuses_the_rest(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_populated(mm);
	struct pinmm_page *pages[5];

	assert_int_equal(pinmm_pin_user_pages_fast(mm, a, 3, PINMM_FOLL_WRITE, pages), 3);
	pages[3] = pages[1];
	pages[4] = pages[2];
	pinmm_unpin_user_pages(pages, 5, false);
	assert_int_equal(finfo(pages[0]).pincount, 0);
	assert_int_equal(finfo(pages[0]).refcount, 1);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* A R/O pin run over a THP some of whose pages are shared (after fork and
 * a PMD split in the child): GUP-fast gives the run up as a whole, the
 * slow path unshares what must be, and every page ends up pinned once. */
static void ro_pin_run_with_shared_pages(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_populated(mm);
	struct pinmm_page *pages[16];
	struct pinmm_pin pin;

	zero_pin(&pin);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pinmm_pin(mm, &pin, a + 8 * PG, 16, 0, true, pages), 0);
	for (unsigned i = 0; i < 16; i++)
		assert_true(follow(mm, a + (8 + i) * PG).anon_exclusive);
	assert_coherent(&pin, mm, a + 8 * PG);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* PTE runs: 40 pages from page 10 of a 64 KiB mTHP cover three folios
 * (6 + 16 + 16 pages of them, then 2 of a fourth): each gets its share. */
static void pte_runs_of_mthp_case(bool fast)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_page *pages[40];
	uint64_t a;

	assert_int_equal(pinmm_thp_set_enabled(eng, PINMM_PMD_SIZE, PINMM_THP_NEVER), 0);
	assert_int_equal(pinmm_thp_set_enabled(eng, 64 * 1024, PINMM_THP_MADVISE), 0);
	assert_int_equal(pinmm_mmap(mm, 0, 256 * 1024, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M,
				    &a), 0);
	fill(mm, a, 0x4d, 256 * 1024);
	long n = fast ? pinmm_pin_user_pages_fast(mm, a + 10 * PG, 40, PINMM_FOLL_WRITE, pages)
		      : pinmm_pin_user_pages(mm, a + 10 * PG, 40, PINMM_FOLL_WRITE, pages);
	assert_int_equal(n, 40);
	static const int share[4] = { 6, 16, 16, 2 };
	for (unsigned f = 0; f < 4; f++) {
		struct pinmm_folio_info fi = finfo_at(mm, a + f * 16 * PG);
		assert_int_equal(fi.order, 4);
		assert_int_equal(fi.pincount, share[f]);
		assert_int_equal(fi.refcount, 16 + share[f]);
	}
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(pinmm_page_pfn(pages[i]), pfn_at(mm, a + (10 + i) * PG));
	assert_invariants(eng);
	pinmm_unpin_user_pages(pages, 40, false);
	assert_int_equal(finfo_at(mm, a + 16 * PG).refcount, 16);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

static void pte_runs_of_mthp_fast(void **s)
{
	(void)s;
	pte_runs_of_mthp_case(true);
}

static void pte_runs_of_mthp_slow(void **s)
{
	(void)s;
	pte_runs_of_mthp_case(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batched_counts_fast),
		cmocka_unit_test(batched_counts_slow),
		cmocka_unit_test(unpin_more_than_pinned_refuses_the_rest),
		cmocka_unit_test(ro_pin_run_with_shared_pages),
		cmocka_unit_test(pte_runs_of_mthp_fast),
		cmocka_unit_test(pte_runs_of_mthp_slow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
