/* SPDX-License-Identifier: MIT */
/*
 * Multi-size THP (mTHP): anonymous folios of 16 KiB .. 1 MiB mapped by
 * PTEs, allocated whole on a write fault when their size is enabled, and
 * the guarantee over them: COW copies one page, fork copies a pinned page
 * early, a pin of one page holds the folio against split and migration,
 * migration moves the folio whole.
 */
#include "helpers.h"

#define K64 (64 * 1024ul)

/* An engine where faults of MADV_HUGEPAGE regions take 64 KiB folios
 * (the PMD size off, as cow.c runs each mTHP size alone). */
static struct pinmm *make_mthp_engine(struct pinmm_policy p)
{
	struct pinmm *eng = make_engine(p);

	assert_int_equal(pinmm_thp_set_enabled(eng, PINMM_PMD_SIZE, PINMM_THP_NEVER), 0);
	assert_int_equal(pinmm_thp_set_enabled(eng, K64, PINMM_THP_MADVISE), 0);
	return eng;
}

static uint64_t map_hugepage(struct pinmm_mm *mm, uint64_t len)
{
	return map_anon(mm, len, PROT_RW,
			PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M);
}

static void write_fault_maps_whole_mthp(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, 4 * K64);

	store8(mm, a + K64 + 5 * PG, 0x11);
	for (unsigned i = 0; i < 16; i++) {
		struct pinmm_mapping m = follow(mm, a + K64 + i * PG);
		assert_true(m.present);
		assert_int_equal(m.order, 4);
		assert_true(m.anon_exclusive);
		assert_true(m.writable);
		assert_int_equal(m.pfn, pfn_at(mm, a + K64) + i);
	}
	/* only that 64 KiB: its neighbours are untouched */
	assert_false(follow(mm, a).present);
	assert_false(follow(mm, a + 2 * K64).present);
	assert_int_equal(load8(mm, a + K64 + 5 * PG), 0x11);
	assert_int_equal(load8(mm, a + K64 + 6 * PG), 0);
	assert_int_equal(finfo_at(mm, a + K64).refcount, 16);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* The largest enabled size whose range is empty and inside the VMA; else
 * smaller; else a small page. A read fault maps the zero page. */
static void fault_picks_largest_fitting_size(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);

	assert_int_equal(pinmm_thp_set_enabled(eng, 16 * 1024, PINMM_THP_MADVISE), 0);
	assert_int_equal(load8(mm, a), 0);
	assert_true(follow(mm, a).zero_page);
	/* the zero page sits in the 64 KiB range: 16 KiB where it is free */
	store8(mm, a + 8 * PG, 0x22);
	assert_int_equal(follow(mm, a + 8 * PG).order, 2);
	assert_int_equal(follow(mm, a + 11 * PG).order, 2);
	assert_false(follow(mm, a + 12 * PG).present);
	/* the first 16 KiB holds the zero page: a write there COWs one page */
	store8(mm, a + PG, 0x23);
	assert_int_equal(follow(mm, a + PG).order, 0);
	/* a region smaller than any enabled size: small pages */
	uint64_t b = map_hugepage(mm, 3 * PG);
	store8(mm, b, 0x24);
	assert_int_equal(follow(mm, b).order, 0);
	/* without MADV_HUGEPAGE (madvise mode): small pages; with always: mTHP */
	uint64_t c = map_anon(mm, K64, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
	store8(mm, c, 0x25);
	assert_int_equal(follow(mm, c).order, 0);
	assert_int_equal(pinmm_thp_set_enabled(eng, K64, PINMM_THP_ALWAYS), 0);
	uint64_t d = map_anon(mm, K64, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
	store8(mm, d, 0x26);
	assert_int_equal(follow(mm, d).order, 4);
	uint64_t e = map_anon(mm, K64, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_NOHUGEPAGE);
	store8(mm, e, 0x27);
	assert_int_equal(follow(mm, e).order, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void set_enabled_refuses_bad_sizes(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	enum pinmm_thp_mode mode;

	assert_int_equal(pinmm_thp_set_enabled(eng, 24 * 1024, PINMM_THP_MADVISE), -EINVAL);
	assert_int_equal(pinmm_thp_set_enabled(eng, 8 * 1024, PINMM_THP_MADVISE), -EINVAL);
	assert_int_equal(pinmm_thp_set_enabled(eng, 4 * PINMM_PMD_SIZE, PINMM_THP_MADVISE),
			 -EINVAL);
	assert_int_equal(pinmm_thp_set_enabled(eng, K64, (enum pinmm_thp_mode)7), -EINVAL);
	assert_int_equal(pinmm_thp_set_enabled(NULL, K64, PINMM_THP_MADVISE), -EINVAL);
	assert_int_equal(pinmm_thp_get_enabled(eng, K64, &mode), 0);
	assert_int_equal(mode, PINMM_THP_NEVER);
	assert_int_equal(pinmm_thp_get_enabled(eng, PINMM_PMD_SIZE, &mode), 0);
	assert_int_equal(mode, PINMM_THP_MADVISE);
	assert_int_equal(pinmm_thp_get_enabled(eng, 3 * PG, &mode), -EINVAL);
	finish_engine(eng);
}

/* COW after fork copies the one page written; the rest stays shared. */
static void cow_copies_one_page(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);

	fill(mm, a, 0x31, K64);
	struct pinmm_mm *child = fork_mm(mm);
	store8(child, a + 3 * PG, 0x32);
	assert_int_equal(load8(mm, a + 3 * PG), 0x31);
	assert_int_equal(follow(child, a + 3 * PG).order, 0);
	assert_int_equal(pfn_at(child, a + 4 * PG), pfn_at(mm, a + 4 * PG));
	assert_int_equal(follow(mm, a + 3 * PG).order, 4);
	store8(mm, a + 9 * PG, 0x33);
	assert_int_equal(load8(child, a + 9 * PG), 0x31);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* fork of an mTHP with a pinned page: the child gets its own copy of that
 * page at once; the parent's pin stays coherent whoever writes first. With
 * fork_copy_pinned off, the child's write is a COW that the parent's
 * later write follows: the pin is lost. */
static void fork_pinned_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_mthp_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x41, K64);
	pin_ok(mm, &pin, a + 2 * PG, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	struct pinmm_mm *child = fork_mm(mm);
	store8(child, a + 2 * PG, 0x42);
	store8(mm, a + 2 * PG + 1, 0x43);
	assert_int_equal(is_coherent(&pin, mm, a + 2 * PG), !detected);
	assert_int_equal(load8(mm, a + 2 * PG), 0x41);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_copies_pinned_page_early(void **s)
{
	(void)s;
	fork_pinned_case(policy_strict(), false);
}

static void fork_pinned_off_detected(void **s)
{
	(void)s;
	fork_pinned_case(policy_strict_without(PINMM_SW_FORK_COPY_PINNED), true);
}

/* One pinned page holds the whole folio: split and migration refuse; once
 * unpinned, migration moves all 16 pages, still one folio. */
static void pin_holds_folio_then_migrates_whole(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x51, K64);
	pin_ok(mm, &pin, a + 7 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	assert_true(finfo_at(mm, a).maybe_dma_pinned);
	assert_int_equal(pinmm_split_folio(mm, a), -EBUSY);
	assert_int_equal(pinmm_migrate(mm, a + 12 * PG), -EBUSY);
	assert_coherent(&pin, mm, a + 7 * PG);
	unpin_ok(&pin);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a + 12 * PG), 0);
	assert_int_not_equal(pfn_at(mm, a), pfn);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(pfn_at(mm, a + i * PG), pfn_at(mm, a) + i);
	assert_int_equal(finfo_at(mm, a).order, 4);
	assert_bytes(mm, a, 0x51, K64);
	/* and the split: 16 small folios in place */
	assert_int_equal(pinmm_split_folio(mm, a), 0);
	assert_int_equal(follow(mm, a + 15 * PG).order, 0);
	assert_bytes(mm, a, 0x51, K64);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* munmap of part of an mTHP: the rest stays mapped, the folio lives until
 * its last page goes. */
static void partial_munmap_keeps_the_rest(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);

	fill(mm, a, 0x61, K64);
	assert_int_equal(pinmm_munmap(mm, a + 4 * PG, 8 * PG), 0);
	assert_int_equal(finfo_at(mm, a).refcount, 8);
	assert_int_equal(load8(mm, a + 13 * PG), 0x61);
	assert_int_equal(follow(mm, a + 13 * PG).order, 4);
	assert_invariants(eng);
	assert_int_equal(pinmm_munmap(mm, a, K64), 0);
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* Linux >= 6.15: after the child that shared it exits, a write reuses a
 * page of the folio in place (only this mm maps it, only its mappings
 * reference it); a GUP reference, or the child still mapping it, means a
 * copy; with large_cow_reuse off (before 6.15) it is copied. */
static void cow_reuses_large_folio_only_this_mm_maps(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);
	struct pinmm_page *pages[1];
	struct pinmm_pin get;

	for (unsigned i = 0; i < 16; i++)
		store8(mm, a + i * PG, 0x70);
	struct pinmm_mm *child = fork_mm(mm);
	uint64_t pfn = pfn_at(mm, a + 3 * PG);
	store8(mm, a + 3 * PG, 0x71);		/* the child maps it: copy */
	assert_int_not_equal(pfn_at(mm, a + 3 * PG), pfn);
	pinmm_mm_exit(child);
	pfn = pfn_at(mm, a + 5 * PG);
	zero_pin(&get);
	assert_int_equal(pinmm_get(mm, &get, a + 9 * PG, 1, 0, false, pages), 0);
	store8(mm, a + 5 * PG, 0x72);		/* a GUP reference: copy */
	assert_int_not_equal(pfn_at(mm, a + 5 * PG), pfn);
	assert_int_equal(pinmm_put(&get), 0);
	pfn = pfn_at(mm, a + 7 * PG);
	store8(mm, a + 7 * PG, 0x73);		/* ours alone: reuse */
	assert_int_equal(pfn_at(mm, a + 7 * PG), pfn);
	assert_int_equal(follow(mm, a + 7 * PG).order, 4);
	assert_true(follow(mm, a + 7 * PG).anon_exclusive);
	assert_false(follow(mm, a + 8 * PG).anon_exclusive);	/* that page only */
	assert_int_equal(load8(mm, a + 6 * PG), 0x70);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void large_cow_reuse_off_copies(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine(policy_strict_without(PINMM_SW_LARGE_COW_REUSE));
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64);

	store8(mm, a, 0x74);
	pinmm_mm_exit(fork_mm(mm));
	uint64_t pfn = pfn_at(mm, a + 7 * PG);
	store8(mm, a + 7 * PG, 0x75);
	assert_int_not_equal(pfn_at(mm, a + 7 * PG), pfn);
	assert_int_equal(follow(mm, a + 7 * PG).order, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_fault_maps_whole_mthp),
		cmocka_unit_test(fault_picks_largest_fitting_size),
		cmocka_unit_test(set_enabled_refuses_bad_sizes),
		cmocka_unit_test(cow_copies_one_page),
		cmocka_unit_test(fork_copies_pinned_page_early),
		cmocka_unit_test(fork_pinned_off_detected),
		cmocka_unit_test(pin_holds_folio_then_migrates_whole),
		cmocka_unit_test(partial_munmap_keeps_the_rest),
		cmocka_unit_test(cow_reuses_large_folio_only_this_mm_maps),
		cmocka_unit_test(large_cow_reuse_off_copies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
