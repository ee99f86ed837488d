/* SPDX-License-Identifier: MIT */
/* Reclaim and swap (G3 row: reclaim never unmaps a page that may be pinned). */
#include "helpers.h"

static void reclaim_swaps_out_and_in(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 8);

	for (unsigned i = 0; i < 8; i++)
		fill(mm, a + i * PG, (uint8_t)(0x30 + i), PG);
	size_t used = frames_used(eng);
	assert_int_equal(pinmm_reclaim(eng, 8), 8);
	for (unsigned i = 0; i < 8; i++)
		assert_true(follow(mm, a + i * PG).swapped);
	assert_int_equal(frames_used(eng), used - 8);
	assert_invariants(eng);
	/* fork shares the swap entries; the first swap-in caches the page
	 * for the other side, and a write copies as COW does */
	struct pinmm_mm *child = fork_mm(mm);
	assert_invariants(eng);
	assert_bytes(mm, a + 2 * PG, 0x32, PG);
	store8(child, a + 2 * PG, 0x99);
	assert_int_equal(load8(mm, a + 2 * PG), 0x32);
	assert_bytes(child, a + 5 * PG, 0x35, PG);
	assert_false(follow(mm, a).present);
	/* an exclusive swap entry swaps in writable-in-place */
	pinmm_mm_exit(child);
	store8(mm, a + 7 * PG, 0x77);
	assert_int_equal(load8(mm, a + 7 * PG), 0x77);
	assert_invariants(eng);
	/* unmapping swapped pages frees their slots */
	assert_int_equal(pinmm_munmap(mm, a, 8 * PG), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pageout_advice(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);

	fill(mm, a, 0x44, 4 * PG);
	assert_int_equal(pinmm_madvise(mm, a + PG, 2 * PG, PINMM_MADV_PAGEOUT), 0);
	assert_false(follow(mm, a).swapped);
	assert_true(follow(mm, a + PG).swapped);
	assert_true(follow(mm, a + 2 * PG).swapped);
	assert_int_equal(pinmm_madvise(mm, a + PG, PG, PINMM_MADV_DONTNEED), 0);
	assert_invariants(eng);
	assert_int_equal(load8(mm, a + PG), 0);	/* a new zero page */
	assert_bytes(mm, a + 2 * PG, 0x44, PG);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void reclaim_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 6);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x61, 6 * PG);
	pin_ok(mm, &pin, a + 3 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	long n = pinmm_reclaim(eng, 100);
	if (!detected) {
		assert_int_equal(n, 5);
		assert_false(follow(mm, a + 3 * PG).swapped);
		assert_int_equal(pfn_at(mm, a + 3 * PG), pinmm_page_pfn(pages[0]));
		assert_coherent(&pin, mm, a + 3 * PG);
	} else {
		assert_int_equal(n, 6);
		assert_true(follow(mm, a + 3 * PG).swapped);
		/* the next access maps another page than the device's */
		assert_false(is_coherent(&pin, mm, a + 3 * PG));
	}
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void reclaim_skips_pinned(void **s) { (void)s; reclaim_case(policy_strict(), false); }
static void reclaim_off_detected(void **s)
{
	(void)s;
	reclaim_case(policy_strict_without(PINMM_SW_RECLAIM_SKIPS_PINNED), true);
}

/* A page with a GUP reference (no pin) is unmapped, but stays in the swap
 * cache for the reference (Linux's __remove_mapping() cannot freeze its
 * count): the next access maps the same page again. */
static void reclaim_keeps_gup_referenced(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[1];
	struct pinmm_pin get;

	zero_pin(&get);
	fill(mm, a, 0x3c, 2 * PG);
	assert_int_equal(pinmm_get(mm, &get, a, 1, 0, false, pages), 0);
	assert_int_equal(pinmm_reclaim(eng, 10), 1);	/* only the other one is freed */
	assert_true(follow(mm, a).swapped);
	assert_true(finfo(pages[0]).swapcache);
	assert_invariants(eng);
	assert_int_equal(load8(mm, a), 0x3c);
	assert_int_equal(pfn_at(mm, a), pinmm_page_pfn(pages[0]));
	assert_false(finfo(pages[0]).swapcache);
	assert_int_equal(pinmm_put(&get), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The swap device's size: none (a machine without swap) keeps every
 * anonymous page mapped under reclaim and MADV_PAGEOUT; a small one takes
 * no more pages than it has slots. */
static void swap_device_size(void **s)
{
	(void)s;
	for (size_t slots = 0; slots <= 2; slots += 2) {
		struct pinmm_config cfg;
		struct pinmm *eng = NULL;

		pinmm_config_default(&cfg);
		assert_int_equal(cfg.swap_pages, cfg.normal_frames);
		cfg.swap_pages = slots;
		assert_int_equal(pinmm_create(&cfg, &eng), 0);
		struct pinmm_mm *mm = make_mm(eng);
		uint64_t a = map_rw_populated(mm, 4);

		fill(mm, a, 0x2c, 4 * PG);
		assert_int_equal(pinmm_madvise(mm, a, 4 * PG, PINMM_MADV_PAGEOUT), 0);
		unsigned swapped = 0;
		for (unsigned i = 0; i < 4; i++)
			swapped += follow(mm, a + i * PG).swapped;
		assert_int_equal(swapped, slots);
		assert_int_equal(pinmm_reclaim(eng, 64), 0);	/* nowhere to go */
		assert_bytes(mm, a, 0x2c, 4 * PG);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(swap_device_size),
		cmocka_unit_test(reclaim_swaps_out_and_in),
		cmocka_unit_test(pageout_advice),
		cmocka_unit_test(reclaim_skips_pinned),
		cmocka_unit_test(reclaim_off_detected),
		cmocka_unit_test(reclaim_keeps_gup_referenced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
