/* SPDX-License-Identifier: MIT */
/*
 * Swap-out of large folios (Linux's THP_SWAP, 4.13, and mTHP swap-out,
 * 6.10): reclaim and MADV_PAGEOUT swap a PMD THP or an mTHP out whole into
 * a naturally aligned run of slots of one free cluster, each PTE the swap
 * entry of its page's slot with its own exclusive marker; with no such run
 * the folio is split first. A large folio someone else holds stays whole
 * and mapped (can_split_folio()). Swap-in from the synchronous device
 * (zram) reads an mTHP whole when its entries are the slot's only ones
 * (6.12); a PMD-size folio comes back as small pages.
 */
#include "helpers.h"
#include "engine.h"

#define K64 (64 * 1024ul)

static struct pinmm *make_swap_engine(size_t swap_pages)
{
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;

	pinmm_config_default(&cfg);
	if (swap_pages)
		cfg.swap_pages = swap_pages;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	return eng;
}

/* 64 KiB folios for MADV_HUGEPAGE regions, the PMD size off (as cow.c
 * runs each mTHP size alone) */
static void enable_64k(struct pinmm *eng)
{
	assert_int_equal(pinmm_thp_set_enabled(eng, PINMM_PMD_SIZE, PINMM_THP_NEVER), 0);
	assert_int_equal(pinmm_thp_set_enabled(eng, K64, PINMM_THP_MADVISE), 0);
}

static uint64_t map_hugepage(struct pinmm_mm *mm, uint64_t len, uint8_t v)
{
	uint64_t a = map_anon(mm, len, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M);

	fill(mm, a, v, len);
	return a;
}

static void pageout(struct pinmm_mm *mm, uint64_t a, uint64_t len)
{
	assert_int_equal(pinmm_madvise(mm, a, len, PINMM_MADV_PAGEOUT), 0);
}

static void assert_swapped(struct pinmm_mm *mm, uint64_t a, uint64_t len, bool exclusive)
{
	for (uint64_t off = 0; off < len; off += PG) {
		struct pinmm_mapping m = follow(mm, a + off);

		assert_true(m.swapped);
		assert_int_equal(m.anon_exclusive, exclusive);
	}
}

/* A PMD THP swaps out whole (no split of the folio: its 512 slots are one
 * cluster) and comes back as small exclusive pages. */
static void thp_swaps_out_whole(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(0);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, PINMM_PMD_SIZE, 0x5a);

	assert_true(follow(mm, a).huge);
	pageout(mm, a, PINMM_PMD_SIZE);
	assert_swapped(mm, a, PINMM_PMD_SIZE, true);
	assert_int_equal(get_stats(eng).swap_slots, 512);
	assert_int_equal(get_stats(eng).swap_cache, 0);
	assert_int_equal(frames_used(eng), 0);
	assert_invariants(eng);
	assert_int_equal(load8(mm, a + 300 * PG), 0x5a);
	struct pinmm_mapping m = follow(mm, a + 300 * PG);
	assert_int_equal(m.order, 0);
	assert_true(m.anon_exclusive);
	assert_true(m.writable);
	assert_true(follow(mm, a + 301 * PG).swapped);
	assert_bytes(mm, a, 0x5a, PINMM_PMD_SIZE);
	assert_int_equal(get_stats(eng).swap_slots, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* An mTHP swaps out whole and a fault reads it back whole; after fork the
 * entries are shared and come back as small pages through the cache. */
static void mthp_swaps_out_and_in_whole(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(0);
	enable_64k(eng);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, 2 * K64, 0x21);

	assert_int_equal(follow(mm, a).order, 4);
	pageout(mm, a, K64);
	assert_swapped(mm, a, K64, true);
	assert_int_equal(follow(mm, a + K64).order, 4);	/* outside the range */
	assert_int_equal(get_stats(eng).swap_slots, 16);
	assert_invariants(eng);
	assert_int_equal(load8(mm, a + 5 * PG), 0x21);
	for (unsigned i = 0; i < 16; i++) {
		struct pinmm_mapping m = follow(mm, a + i * PG);
		assert_int_equal(m.order, 4);
		assert_true(m.anon_exclusive);
		assert_int_equal(m.pfn, pfn_at(mm, a) + i);
	}
	assert_int_equal(get_stats(eng).swap_slots, 0);
	assert_invariants(eng);

	pageout(mm, a, K64);
	struct pinmm_mm *child = fork_mm(mm);
	assert_swapped(mm, a, K64, false);	/* fork dropped the markers */
	assert_int_equal(load8(mm, a + 5 * PG), 0x21);
	assert_int_equal(follow(mm, a + 5 * PG).order, 0);
	assert_true(follow(mm, a + 6 * PG).swapped);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A folio of zeros swaps out whole with its zeromap set on every slot, and
 * one with a single byte set with none: both come back whole. */
static void zero_folio_swaps_in_whole(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(0);
	enable_64k(eng);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, 2 * K64, 0);

	store8(mm, a + K64 + 9 * PG, 0x3c);
	pageout(mm, a, 2 * K64);
	assert_swapped(mm, a, 2 * K64, true);
	assert_true(eng->swap.zeromap[511] && eng->swap.zeromap[526]);
	assert_false(eng->swap.zeromap[527] || eng->swap.zeromap[542]);
	assert_int_equal(load8(mm, a + 3 * PG), 0);
	assert_int_equal(follow(mm, a).order, 4);
	assert_int_equal(load8(mm, a + K64 + 9 * PG), 0x3c);
	assert_int_equal(follow(mm, a + K64).order, 4);
	assert_int_equal(load8(mm, a + K64), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A device without a free cluster (only the header's): the mTHP is split
 * and its pages swap out one by one, and come back small. */
static void no_free_cluster_splits_first(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(256);
	enable_64k(eng);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64, 0x33);

	pageout(mm, a, K64);
	assert_swapped(mm, a, K64, true);
	assert_int_equal(get_stats(eng).swap_slots, 16);
	assert_int_equal(frames_used(eng), 0);
	assert_int_equal(load8(mm, a + 3 * PG), 0x33);
	assert_int_equal(follow(mm, a + 3 * PG).order, 0);
	assert_true(follow(mm, a + 4 * PG).swapped);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A pin, or a GUP reference, keeps the large folio whole and mapped. */
static void held_large_folio_stays(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(0);
	enable_64k(eng);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64, 0x44);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a + 2 * PG, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	pageout(mm, a, K64);
	assert_false(follow(mm, a).swapped);
	assert_int_equal(follow(mm, a + 9 * PG).order, 4);
	assert_int_equal(get_stats(eng).swap_slots, 0);
	unpin_ok(&pin);

	zero_pin(&pin);
	assert_int_equal(pinmm_get(mm, &pin, a + 2 * PG, 1, 0, false, pages), 0);
	pageout(mm, a, K64);
	assert_false(follow(mm, a).swapped);
	assert_int_equal(follow(mm, a + 9 * PG).order, 4);
	assert_int_equal(pinmm_put(&pin), 0);
	pageout(mm, a, K64);
	assert_swapped(mm, a, K64, true);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A range that covers part of the folio (cow.c's single PTE): the folio
 * is split and the covered page swaps out alone. */
static void partial_range_splits(void **s)
{
	(void)s;
	struct pinmm *eng = make_swap_engine(0);
	enable_64k(eng);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugepage(mm, K64, 0x55);

	pageout(mm, a + 4 * PG, PG);
	assert_true(follow(mm, a + 4 * PG).swapped);
	assert_int_equal(follow(mm, a).order, 0);
	assert_false(follow(mm, a + 5 * PG).swapped);
	assert_int_equal(get_stats(eng).swap_slots, 1);
	assert_int_equal(load8(mm, a + 4 * PG), 0x55);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thp_swaps_out_whole),
		cmocka_unit_test(mthp_swaps_out_and_in_whole),
		cmocka_unit_test(zero_folio_swaps_in_whole),
		cmocka_unit_test(no_free_cluster_splits_first),
		cmocka_unit_test(held_large_folio_stays),
		cmocka_unit_test(partial_range_splits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
