/* SPDX-License-Identifier: MIT */
/*
 * The swap cache: a page swapped in while another process's entry still
 * refers to its slot stays cached, so that process maps the same page;
 * slots and cached folios go with their last reference; a swap entry
 * remembers whether its page was exclusive (SWP_EXCLUSIVE, Linux 5.19,
 * 1493a1913e34 "mm/swap: remember PG_anon_exclusive via a swp pte bit"),
 * and without that marker a R/W FOLL_GET reference that lived through
 * reclaim loses the process's next write.
 */
#include "helpers.h"

static struct pinmm *make_swap_engine(struct pinmm_policy p)
{
	return make_engine(p);	/* the default configuration has a swap device */
}

static void pageout(struct pinmm_mm *mm, uint64_t a, uint64_t len)
{
	assert_int_equal(pinmm_madvise(mm, a, len, PINMM_MADV_PAGEOUT), 0);
	for (uint64_t off = 0; off < len; off += PG)
		assert_true(follow(mm, a + off).swapped);
}

static void assert_swap(struct pinmm *eng, size_t slots, size_t cached)
{
	struct pinmm_stats st = get_stats(eng);

	assert_int_equal(st.swap_slots, slots);
	assert_int_equal(st.swap_cache, cached);
}

/* After fork both processes swap in the one entry and map one page. */
static void second_swapin_maps_the_cached_page(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_swapped_out(mm, 1, 0x41);
	assert_swap(eng, 1, 0);		/* written, then freed from the cache */
	struct pinmm_mm *child = fork_mm(mm);
	assert_false(follow(mm, a).anon_exclusive);	/* fork dropped the marker */
	assert_false(follow(child, a).anon_exclusive);

	assert_int_equal(load8(mm, a), 0x41);
	struct pinmm_folio_info fi = finfo_at(mm, a);
	assert_true(fi.swapcache);	/* the child's entry still refers to it */
	assert_false(follow(mm, a).anon_exclusive);
	assert_false(follow(mm, a).writable);
	assert_swap(eng, 1, 1);
	assert_invariants(eng);

	assert_int_equal(load8(child, a), 0x41);
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	fi = finfo_at(mm, a);
	assert_int_equal(fi.mapcount, 2);
	assert_int_equal(fi.refcount, 2);	/* the mappings: the cache let go */
	assert_false(fi.swapcache);
	assert_false(follow(child, a).anon_exclusive);
	assert_swap(eng, 0, 0);
	assert_invariants(eng);

	/* shared: the parent's write copies, the child's then reuses */
	uint64_t shared = pfn_at(mm, a);
	store8(mm, a, 0x42);
	assert_int_not_equal(pfn_at(mm, a), shared);
	assert_int_equal(load8(child, a), 0x41);
	store8(child, a, 0x43);
	assert_int_equal(pfn_at(child, a), shared);
	assert_int_equal(load8(mm, a), 0x42);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A slot lives while an entry refers to it or a folio is cached for it. */
static void slot_goes_with_its_last_reference(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_swapped_out(mm, 2, 0x51);
	struct pinmm_mm *child = fork_mm(mm);
	assert_swap(eng, 2, 0);
	/* page 0: the child goes, the parent's entry keeps the slot */
	pinmm_mm_exit(child);
	assert_swap(eng, 2, 0);
	assert_invariants(eng);
	assert_int_equal(pinmm_munmap(mm, a, PG), 0);
	assert_swap(eng, 1, 0);
	assert_invariants(eng);

	/* page 1: swapped in by the parent while a child refers to it, then
	 * the child exits: the cache lets go of the still-mapped page, and
	 * the parent's write reuses it in place */
	child = fork_mm(mm);
	assert_int_equal(load8(mm, a + PG), 0x51);
	assert_swap(eng, 1, 1);
	uint64_t pfn = pfn_at(mm, a + PG);
	size_t reuses = get_stats(eng).cow_reuses;
	pinmm_mm_exit(child);
	assert_swap(eng, 0, 0);
	assert_false(finfo_at(mm, a + PG).swapcache);
	assert_invariants(eng);
	store8(mm, a + PG, 0x52);
	assert_int_equal(pfn_at(mm, a + PG), pfn);
	assert_int_equal(get_stats(eng).cow_reuses, reuses + 1);
	assert_invariants(eng);

	/* an entry munmapped while its page is cached (reclaim kept it for a
	 * GUP reference) frees slot and cache together */
	struct pinmm_page *pages[1];
	struct pinmm_pin get;
	zero_pin(&get);
	assert_int_equal(pinmm_get(mm, &get, a + PG, 1, 0, false, pages), 0);
	pageout(mm, a + PG, PG);
	assert_swap(eng, 1, 1);
	assert_true(finfo(pages[0]).swapcache);
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	assert_swap(eng, 0, 0);
	assert_false(finfo(pages[0]).swapcache);
	assert_invariants(eng);
	assert_int_equal(pinmm_put(&get), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The swap entry keeps the exclusive marker: the swap-in maps the page
 * writable at once; fork drops the marker in both processes. */
static void exclusive_marker_case(struct pinmm_policy p, bool kept)
{
	struct pinmm *eng = make_swap_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);

	fill(mm, a, 0x61, 2 * PG);
	assert_true(follow(mm, a).anon_exclusive);
	pageout(mm, a, 2 * PG);
	assert_true(follow(mm, a).anon_exclusive == kept);
	assert_int_equal(load8(mm, a), 0x61);
	/* nothing else holds it: exclusive either way (refcount 1) */
	assert_true(follow(mm, a).anon_exclusive);
	assert_true(follow(mm, a).writable);
	assert_invariants(eng);

	struct pinmm_mm *child = fork_mm(mm);
	assert_false(follow(mm, a + PG).anon_exclusive);
	assert_false(follow(child, a + PG).anon_exclusive);
	pinmm_mm_exit(child);
	assert_false(follow(mm, a + PG).anon_exclusive);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void exclusive_marker_kept(void **s)
{
	(void)s;
	exclusive_marker_case(policy_strict(), true);
}

static void exclusive_marker_off(void **s)
{
	(void)s;
	exclusive_marker_case(policy_strict_without(PINMM_SW_SWP_EXCLUSIVE), false);
}

/*
 * The failure 1493a1913e34 fixed: a R/W FOLL_GET reference (O_DIRECT) of
 * an exclusive page; reclaim unmaps the page (a GET is no pin) and keeps it
 * in the swap cache for the reference. The swap-in must map it exclusive
 * again, or the next write fault copies away from it and the reference
 * never sees the process's stores.
 */
static void get_through_swap_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_swap_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin get;

	zero_pin(&get);
	fill(mm, a, 0x71, PG);
	assert_int_equal(pinmm_get(mm, &get, a, 1, PINMM_FOLL_WRITE, false, pages), 0);
	assert_int_equal(pinmm_madvise(mm, a, PG, PINMM_MADV_PAGEOUT), 0);
	assert_true(follow(mm, a).swapped);
	store8(mm, a, 0x72);
	if (!detected) {
		assert_int_equal(pfn_at(mm, a), pinmm_page_pfn(pages[0]));
		assert_int_equal(dev_read8(&get, 0, 0), 0x72);
		assert_coherent(&get, mm, a);
	} else {
		assert_int_not_equal(pfn_at(mm, a), pinmm_page_pfn(pages[0]));
		assert_int_equal(dev_read8(&get, 0, 0), 0x71);
		assert_false(is_coherent(&get, mm, a));
	}
	assert_int_equal(pinmm_put(&get), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void get_through_swap_strict(void **s)
{
	(void)s;
	get_through_swap_case(policy_strict(), false);
}

static void get_through_swap_no_swp_exclusive(void **s)
{
	(void)s;
	get_through_swap_case(policy_strict_without(PINMM_SW_SWP_EXCLUSIVE), true);
}

static void get_through_swap_legacy(void **s)
{
	(void)s;
	get_through_swap_case(policy_legacy_implemented(), true);
}

/* A R/O longterm pin of a page that is shared through the swap cache
 * (after fork) unshares it first: the pinned page is the parent's own, and
 * the child still reads what it had (cow.c's "with swapped out page"). */
static void ro_longterm_pin_of_cached_page(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_swapped_out(mm, 1, 0x81);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	struct pinmm_mm *child = fork_mm(mm);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, false, pages);
	assert_false(finfo(pages[0]).swapcache);
	assert_true(follow(mm, a).anon_exclusive);
	store8(mm, a, 0x82);
	assert_int_equal(dev_read8(&pin, 0, 0), 0x82);
	assert_coherent(&pin, mm, a);
	assert_int_equal(load8(child, a), 0x81);
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* MADV_COLLAPSE over a page the swap cache holds for another process's
 * entry: the cache's reference is expected (is_refcount_suitable()), the
 * range collapses, and the other process still swaps in the old bytes. */
static void collapse_over_a_cached_page(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_NOHUGEPAGE);

	fill(mm, a, 0x91, PINMM_PMD_SIZE);
	assert_int_equal(pinmm_madvise(mm, a, PG, PINMM_MADV_PAGEOUT), 0);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load8(mm, a), 0x91);
	assert_true(finfo_at(mm, a).swapcache);
	assert_int_equal(pinmm_madvise(mm, a, PINMM_PMD_SIZE, PINMM_MADV_HUGEPAGE), 0);
	assert_int_equal(pinmm_madvise(mm, a, PINMM_PMD_SIZE, PINMM_MADV_COLLAPSE), 0);
	assert_true(follow(mm, a).huge);
	assert_swap(eng, 1, 1);		/* the child's entry keeps the old page */
	store8(mm, a, 0x92);
	assert_int_equal(load8(child, a), 0x91);
	assert_swap(eng, 0, 0);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(second_swapin_maps_the_cached_page),
		cmocka_unit_test(slot_goes_with_its_last_reference),
		cmocka_unit_test(exclusive_marker_kept),
		cmocka_unit_test(exclusive_marker_off),
		cmocka_unit_test(get_through_swap_strict),
		cmocka_unit_test(get_through_swap_no_swp_exclusive),
		cmocka_unit_test(get_through_swap_legacy),
		cmocka_unit_test(ro_longterm_pin_of_cached_page),
		cmocka_unit_test(collapse_over_a_cached_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
