/* SPDX-License-Identifier: MIT */
/*
 * THP migration: an anonymous THP migrates whole, as Linux migrates it
 * (CONFIG_ARCH_ENABLE_THP_MIGRATION on x86-64): a PMD mapping stays a PMD
 * mapping of the new THP, PTE mappings of its pages become PTE mappings of
 * the new one's, in every process that maps it; a pinned THP stays. A
 * longterm pin of a page of a THP in the movable zone moves the whole THP
 * to the normal zone, still PMD-mapped — or, when the normal zone has no
 * free 2 MiB block, splits it and moves the pages (migrate_pages()).
 */
#include "helpers.h"

#define HP PINMM_PMD_SIZE

static uint64_t map_thp_filled(struct pinmm_mm *mm, uint8_t byte)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, HP, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE,
				    &a), 0);
	fill(mm, a, byte, HP);
	assert_true(follow(mm, a).huge);
	return a;
}

static void migrate_pmd_mapped_thp_whole(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x31);
	uint64_t pfn = pfn_at(mm, a);

	assert_int_equal(pinmm_migrate(mm, a + 77 * PG), 0);
	struct pinmm_mapping m = follow(mm, a + 77 * PG);
	assert_true(m.huge);		/* still one PMD leaf */
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pfn_at(mm, a + 77 * PG), pfn_at(mm, a) + 77);
	assert_int_equal(finfo(m.page).order, 9);
	assert_true(m.anon_exclusive);
	assert_bytes(mm, a, 0x31, HP);
	/* exclusive and writable still: a store stays in place */
	uint64_t now = pfn_at(mm, a);
	store8(mm, a + 5, 0x32);
	assert_int_equal(pfn_at(mm, a), now);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

static void migrate_thp_shared_with_child(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x41);
	struct pinmm_mm *child = fork_mm(mm);
	uint64_t pfn = pfn_at(mm, a);

	assert_int_equal(pfn_at(child, a), pfn);
	assert_int_equal(pinmm_migrate(child, a), 0);
	/* the rmap found the parent's PMD too: both map the new THP */
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	assert_true(follow(mm, a).huge);
	assert_true(follow(child, a).huge);
	assert_false(follow(mm, a).anon_exclusive);
	assert_int_equal(finfo_at(mm, a).mapcount, 2);
	assert_invariants(eng);
	/* and COW still separates them */
	store8(child, a + 9 * PG, 0x42);
	assert_int_equal(load8(mm, a + 9 * PG), 0x41);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

static void migrate_pte_mapped_thp_whole(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x51);

	assert_int_equal(pinmm_split_pmd(mm, a), 0);
	assert_false(follow(mm, a).huge);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a + 300 * PG), 0);
	/* every PTE maps the new folio, page for page */
	uint64_t npfn = pfn_at(mm, a);
	assert_int_not_equal(npfn, pfn);
	for (unsigned i = 0; i < 512; i += 37)
		assert_int_equal(pfn_at(mm, a + i * PG), npfn + i);
	assert_int_equal(finfo_at(mm, a).order, 9);
	assert_false(follow(mm, a).huge);
	assert_true(follow(mm, a + 300 * PG).anon_exclusive);
	assert_bytes(mm, a, 0x51, HP);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* A pin of one page pins the folio: the THP stays (strict), or moves from
 * under the pin (migrate_refuses_pinned off). */
static void migrate_pinned_thp_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x61);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a + 3 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	uint64_t pfn = pfn_at(mm, a);
	if (!detected) {
		assert_int_equal(pinmm_migrate(mm, a + 400 * PG), -EBUSY);
		assert_int_equal(pfn_at(mm, a), pfn);
		assert_true(follow(mm, a).huge);
		assert_coherent(&pin, mm, a + 3 * PG);
	} else {
		assert_int_equal(pinmm_migrate(mm, a + 400 * PG), 0);
		assert_int_not_equal(pfn_at(mm, a), pfn);
		assert_false(is_coherent(&pin, mm, a + 3 * PG));
	}
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void migrate_pinned_thp_refused(void **s)
{
	(void)s;
	migrate_pinned_thp_case(policy_strict(), false);
}

static void migrate_pinned_thp_off_detected(void **s)
{
	(void)s;
	migrate_pinned_thp_case(policy_strict_without(PINMM_SW_MIGRATE_REFUSES_PINNED), true);
}

/* Two references more than the mappings (a FOLL_GET): refused, -EAGAIN,
 * and everything put back as it was in both processes. */
static void migrate_thp_with_extra_reference_puts_back(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x71);
	struct pinmm_mm *child = fork_mm(mm);
	struct pinmm_page *pages[1];
	uint64_t pfn = pfn_at(mm, a);

	assert_int_equal(pinmm_get_user_pages(mm, a + PG, 1, 0, pages), 1);
	assert_int_equal(pinmm_migrate(mm, a), -EAGAIN);
	assert_int_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pfn_at(child, a), pfn);
	assert_true(follow(mm, a).huge);
	assert_true(follow(child, a).huge);
	pinmm_put_page(pages[0]);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* FOLL_LONGTERM in a movable THP: the whole THP moves to normal memory
 * and stays PMD-mapped; the pin is coherent. */
static void longterm_pin_moves_whole_thp(void **s)
{
	(void)s;
	struct pinmm *eng = make_movablecore_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x15);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(finfo_at(mm, a).zone, PINMM_ZONE_MOVABLE);
	pin_ok(mm, &pin, a + 7 * PG, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, pages);
	assert_int_equal(finfo(pages[0]).zone, PINMM_ZONE_NORMAL);
	assert_int_equal(finfo(pages[0]).order, 9);
	assert_true(follow(mm, a).huge);
	assert_int_equal(finfo_at(mm, a + 500 * PG).zone, PINMM_ZONE_NORMAL);
	assert_coherent(&pin, mm, a + 7 * PG);
	assert_bytes(mm, a, 0x15, HP);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ... and when the normal zone has no free 2 MiB block, the THP is split
 * and its pinned pages move one by one. */
static void longterm_pin_splits_thp_without_huge_block(void **s)
{
	(void)s;
	struct pinmm_config cfg;
	struct pinmm *eng;

	pinmm_config_default(&cfg);
	config_movablecore(&cfg);
	cfg.normal_frames = 1024;	/* 4 MiB */
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp_filled(mm, 0x16), b;
	struct pinmm_page *pages[2], **filler = calloc(513, sizeof(*filler));
	struct pinmm_pin pin, hold;

	/* 513 small pages pinned longterm take that much of the normal
	 * zone: what is left is less than a 2 MiB block */
	zero_pin(&pin);
	zero_pin(&hold);
	assert_non_null(filler);
	assert_int_equal(pinmm_mmap(mm, 0, 513 * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_NOHUGEPAGE, &b), 0);
	fill(mm, b, 0x17, 513 * PG);
	pin_ok(mm, &hold, b, 513, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, filler);
	assert_int_equal(finfo(filler[512]).zone, PINMM_ZONE_NORMAL);
	pin_ok(mm, &pin, a + 7 * PG, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, pages);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(finfo(pages[i]).zone, PINMM_ZONE_NORMAL);
		assert_int_equal(finfo(pages[i]).order, 0);
	}
	assert_false(follow(mm, a).huge);
	assert_coherent(&pin, mm, a + 7 * PG);
	assert_bytes(mm, a, 0x16, HP);
	unpin_ok(&pin);
	unpin_ok(&hold);
	free(filler);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrate_pmd_mapped_thp_whole),
		cmocka_unit_test(migrate_thp_shared_with_child),
		cmocka_unit_test(migrate_pte_mapped_thp_whole),
		cmocka_unit_test(migrate_pinned_thp_refused),
		cmocka_unit_test(migrate_pinned_thp_off_detected),
		cmocka_unit_test(migrate_thp_with_extra_reference_puts_back),
		cmocka_unit_test(longterm_pin_moves_whole_thp),
		cmocka_unit_test(longterm_pin_splits_thp_without_huge_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
