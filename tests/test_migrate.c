/* SPDX-License-Identifier: MIT */
/*
 * G3 rows for migration, NUMA hinting and FOLL_LONGTERM, and file mappings:
 * each passes in strict, and with its switch off the failure is detected.
 */
#include "helpers.h"
#include "mm/mm.h"		/* the entries' dirty bit */

/* The dirty bit of the PTE mapping addr. */
static bool pte_dirty_at(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *pte = pte_table_lookup(mm, addr, NULL);

	assert_non_null(pte);
	return atomic_load(&pte->ent[pt_index(addr, PT_LEVEL_PTE)]) & PTE_DIRTY;
}

/* ------------------------------------------------------------ migrate --- */

static void migrate_unpinned_moves_and_keeps_data(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);

	fill(mm, a, 0x42, PG);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a), 0);
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_bytes(mm, a, 0x42, PG);
	assert_true(follow(mm, a).anon_exclusive);
	/* still writable in place: the exclusive bit moved with it */
	store8(mm, a, 0x43);
	assert_int_equal(pfn_at(mm, a) != pfn, 1);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* Migration keeps the page in its kind of zone: movable stays movable
 * (movablecore), normal stays normal (the default engine has no movable
 * zone). */
static void migrate_keeps_zone(void **s)
{
	(void)s;
	for (int movable = 0; movable < 2; movable++) {
		struct pinmm *eng = movable ? make_movablecore_engine(PINMM_POLICY_STRICT)
					    : make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		uint64_t a = map_rw_populated(mm, 2);
		enum pinmm_zone want = movable ? PINMM_ZONE_MOVABLE : PINMM_ZONE_NORMAL;

		fill(mm, a, 0x2B, 2 * PG);
		for (unsigned i = 0; i < 2; i++) {
			uint64_t pfn = pfn_at(mm, a + i * PG);
			assert_int_equal(finfo_at(mm, a + i * PG).zone, want);
			assert_int_equal(pinmm_migrate(mm, a + i * PG), 0);
			assert_int_not_equal(pfn_at(mm, a + i * PG), pfn);
			assert_int_equal(finfo_at(mm, a + i * PG).zone, want);
		}
		assert_bytes(mm, a, 0x2B, 2 * PG);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

/* The dirty state moves with the page: the entry's dirty bit (kept in the
 * migration entry) and the folio's dirty flag. */
static void migrate_keeps_dirty(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];

	fill(mm, a, 0x3C, PG);
	assert_true(pte_dirty_at(mm, a));
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a), 0);
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_true(pte_dirty_at(mm, a));
	assert_true(follow(mm, a).writable);
	/* a folio marked dirty (a device wrote through a pin) keeps the flag */
	assert_false(finfo_at(mm, a).dirty);
	assert_int_equal(pinmm_pin_user_pages(mm, a, 1, PINMM_FOLL_WRITE, pages), 1);
	assert_int_equal(pinmm_unpin_user_page(pages[0], true), 0);
	assert_true(finfo_at(mm, a).dirty);
	pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a), 0);
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_true(finfo_at(mm, a).dirty);
	assert_bytes(mm, a, 0x3C, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void migrate_shared_after_fork_moves_both(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);

	fill(mm, a, 0x17, PG);
	struct pinmm_mm *child = fork_mm(mm);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pfn_at(child, a), pfn);
	assert_int_equal(pinmm_migrate(mm, a), 0);
	/* the rmap found the child's mapping too */
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	assert_invariants(eng);
	/* COW still breaks correctly afterwards */
	store8(child, a, 0x18);
	assert_int_equal(load8(mm, a), 0x17);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void migrate_shmem_moves_cache_and_mappings(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_shared(mm, 1);

	fill(mm, a, 0x21, PG);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load8(child, a), 0x21);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a), 0);
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	store8(child, a, 0x22);
	assert_int_equal(load8(mm, a), 0x22);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void migrate_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pages);
	uint64_t pfn = pfn_at(mm, a);
	if (!detected) {
		assert_int_equal(pinmm_migrate(mm, a), -EBUSY);
		assert_int_equal(pfn_at(mm, a), pfn);
		assert_coherent(&pin, mm, a);
	} else {
		assert_int_equal(pinmm_migrate(mm, a), 0);
		assert_int_not_equal(pfn_at(mm, a), pfn);	/* moved from under the pin */
		assert_false(is_coherent(&pin, mm, a));
	}
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void migrate_pinned_refused(void **s) { (void)s; migrate_case(policy_strict(), false); }
static void migrate_pinned_off_detected(void **s)
{
	(void)s;
	migrate_case(policy_strict_without(PINMM_SW_MIGRATE_REFUSES_PINNED), true);
}

static void migrate_with_get_reference_eagain(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin get;

	zero_pin(&get);
	assert_int_equal(pinmm_get(mm, &get, a, 1, 0, false, pages), 0);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_migrate(mm, a), -EAGAIN);
	assert_int_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pinmm_put(&get), 0);
	assert_int_equal(pinmm_migrate(mm, a), 0);
	assert_int_not_equal(pfn_at(mm, a), pfn);
	assert_int_equal(pinmm_migrate(mm, a + 4096 * 100), -EFAULT);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void numa_case(struct pinmm_policy p, bool pinned, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x31, PG);
	if (pinned)
		pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, true, pages);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_numa_hint(mm, a), 0);
	assert_bytes(mm, a, 0x31, PG);
	if (!pinned) {
		assert_int_not_equal(pfn_at(mm, a), pfn);
	} else if (!detected) {
		assert_int_equal(pfn_at(mm, a), pfn);	/* silently stays */
		assert_coherent(&pin, mm, a);
	} else {
		assert_false(is_coherent(&pin, mm, a));
	}
	if (pinned)
		unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void numa_hint_moves_unpinned(void **s) { (void)s; numa_case(policy_strict(), false, false); }
static void numa_hint_skips_pinned(void **s) { (void)s; numa_case(policy_strict(), true, false); }
static void numa_hint_off_detected(void **s)
{
	(void)s;
	numa_case(policy_strict_without(PINMM_SW_MIGRATE_REFUSES_PINNED), true, true);
}

/* ----------------------------------------------------------- longterm --- */

static void longterm_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_movablecore_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[4];
	struct pinmm_pin pin;

	zero_pin(&pin);
	for (unsigned i = 0; i < 4; i++)
		fill(mm, a + i * PG, (uint8_t)(0x50 + i), PG);
	assert_int_equal(finfo_at(mm, a).zone, PINMM_ZONE_MOVABLE);
	pin_ok(mm, &pin, a, 4, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, pages);
	for (unsigned i = 0; i < 4; i++) {
		struct pinmm_folio_info fi = finfo(pages[i]);
		assert_int_equal(fi.zone, detected ? PINMM_ZONE_MOVABLE : PINMM_ZONE_NORMAL);
		assert_int_equal(dev_read8(&pin, i, 100), 0x50 + i);
	}
	assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void longterm_pin_leaves_movable(void **s) { (void)s; longterm_case(policy_strict(), false); }
static void longterm_off_detected(void **s)
{
	(void)s;
	longterm_case(policy_strict_without(PINMM_SW_LONGTERM_UNMOVABLE), true);
}

static void longterm_enomem_when_normal_full(void **s)
{
	(void)s;
	struct pinmm_config cfg;
	struct pinmm *eng;
	pinmm_config_default(&cfg);
	cfg.normal_frames = 512;
	cfg.movable_frames = 1024;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 600);
	struct pinmm_page *pages[600];
	struct pinmm_pin pin;

	zero_pin(&pin);
	/* 511 normal frames (the zero page has one): 600 cannot all move */
	assert_int_equal(pinmm_pin(mm, &pin, a, 600, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
				   false, pages), -ENOMEM);
	assert_false(pinmm_pin_held(&pin));
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* --------------------------------------------------------- compaction --- */

static void compact_case(struct pinmm_policy p, bool detected)
{
	struct pinmm_config cfg;
	struct pinmm *eng;
	pinmm_config_default(&cfg);
	cfg.normal_frames = 512;
	cfg.movable_frames = 4 * 512;
	cfg.policy = p;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1024);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	/* keep every 64th page: blocks nearly empty, worth compacting */
	for (unsigned i = 0; i < 1024; i++)
		if (i % 64)
			assert_int_equal(pinmm_munmap(mm, a + i * PG, PG), 0);
	for (unsigned i = 0; i < 1024; i += 64)
		fill(mm, a + i * PG, (uint8_t)i, PG);
	pin_ok(mm, &pin, a + 128 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	uint64_t pinned = pfn_at(mm, a + 128 * PG);
	long moved = pinmm_compact(eng);
	assert_true(moved > 0);
	for (unsigned i = 0; i < 1024; i += 64)
		assert_bytes(mm, a + i * PG, (uint8_t)i, PG);
	if (!detected) {
		assert_int_equal(pfn_at(mm, a + 128 * PG), pinned);
		assert_coherent(&pin, mm, a + 128 * PG);
	} else {
		/* every partly used block was emptied, the pinned page too */
		assert_int_not_equal(pfn_at(mm, a + 128 * PG), pinned);
		assert_false(is_coherent(&pin, mm, a + 128 * PG));
	}
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void compaction_skips_pinned(void **s) { (void)s; compact_case(policy_strict(), false); }
static void compaction_off_detected(void **s)
{
	(void)s;
	compact_case(policy_strict_without(PINMM_SW_MIGRATE_REFUSES_PINNED), true);
}

/* -------------------------------------------------------------- files --- */

static void file_shared_and_private_mappings(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	uint64_t sh, pv;
	uint8_t b;

	assert_int_equal(pinmm_file_create(eng, 3 * PG, 0x7e, &f), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 3 * PG, PROT_RW, PINMM_MAP_SHARED, f, 0, &sh), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RW, PINMM_MAP_PRIVATE, f, PG, &pv), 0);
	assert_int_equal(load8(mm, sh + PG), 0x7e);
	assert_int_equal(load8(mm, pv), 0x7e);
	/* a private mapping reads the page-cache page itself, until it writes */
	assert_int_equal(pfn_at(mm, pv), pfn_at(mm, sh + PG));
	store8(mm, sh + PG, 0x11);	/* shared: reaches the file ... */
	assert_int_equal(pinmm_file_read(f, PG, &b, 1), 0);
	assert_int_equal(b, 0x11);
	assert_int_equal(load8(mm, pv), 0x11);	/* ... and the private reader */
	store8(mm, pv, 0x22);		/* private: COW, the file keeps its byte */
	assert_int_equal(pinmm_file_read(f, PG, &b, 1), 0);
	assert_int_equal(b, 0x11);
	assert_int_not_equal(pfn_at(mm, pv), pfn_at(mm, sh + PG));
	b = 0x33;
	assert_int_equal(pinmm_file_write(f, 2 * PG, &b, 1), 0);
	assert_int_equal(load8(mm, pv + PG), 0x33);
	/* beyond the end of the file: no page to map */
	uint64_t big;
	assert_int_equal(pinmm_mmap_file(mm, 0, 8 * PG, PROT_RW, PINMM_MAP_SHARED, f, 0, &big), 0);
	assert_int_equal(load_err(mm, big + 5 * PG), -EFAULT);
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW, PINMM_MAP_SHARED, f, 5, &big), -EINVAL);
	pinmm_file_put(f);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * A longterm pin of a movable page that cannot migrate (a short-term pin
 * keeps it in place) fails with ENOMEM, as mm/gup.c reports any failed
 * migration of check_and_migrate_movable_pages(); the page stays where it
 * was, pinned once.
 */
static void longterm_enomem_when_page_cannot_move(void **s)
{
	(void)s;
	struct pinmm *eng = make_movablecore_engine(PINMM_POLICY_STRICT);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1], *lt_pages[1];
	struct pinmm_pin pin, lt;

	zero_pin(&pin);
	zero_pin(&lt);
	fill(mm, a, 0x61, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pages);
	assert_int_equal(finfo(pages[0]).zone, PINMM_ZONE_MOVABLE);
	assert_int_equal(pinmm_pin(mm, &lt, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
				   false, lt_pages), -ENOMEM);
	assert_int_equal(finfo(pages[0]).pincount, 1);
	assert_int_equal(pfn_at(mm, a), pinmm_page_pfn(pages[0]));
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* File kinds: a writable longterm pin of a shared mapping is refused on a
 * file that tracks dirty pages (EFAULT, slow and fast), allowed on shmem;
 * writeback cleans the page and write-protects the mapping, leaving the
 * page (and a pin on it) where it is. */
static void file_kinds_and_writeback(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *mem, *dsk;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;
	uint64_t m, d;

	zero_pin(&pin);
	assert_int_equal(pinmm_file_create_kind(eng, PG, 0x31, PINMM_FILE_SHMEM, &mem), 0);
	assert_int_equal(pinmm_file_create_kind(eng, PG, 0x32, PINMM_FILE_DISK, &dsk), 0);
	struct pinmm_file *bad;
	assert_int_equal(pinmm_file_create_kind(eng, PG, 0, (enum pinmm_file_kind)7, &bad), -EINVAL);
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW, PINMM_MAP_SHARED, mem, 0, &m), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW, PINMM_MAP_SHARED, dsk, 0, &d), 0);
	for (int fast = 0; fast < 2; fast++) {
		assert_int_equal(pinmm_pin(mm, &pin, d, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
					   fast, pages), -EFAULT);
		pin_ok(mm, &pin, m, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, fast, pages);
		unpin_ok(&pin);
	}
	/* writeback */
	pin_ok(mm, &pin, d, 1, PINMM_FOLL_WRITE, false, pages);
	store8(mm, d, 0x44);
	assert_int_equal(pinmm_file_writeback(dsk), 1);
	assert_false(follow(mm, d).writable);
	assert_false(finfo(pages[0]).dirty);
	assert_int_equal(pinmm_file_writeback(dsk), 0);	/* nothing dirty now */
	store8(mm, d + 1, 0x45);
	assert_true(follow(mm, d).writable);
	assert_int_equal(pfn_at(mm, d), pinmm_page_pfn(pages[0]));
	assert_int_equal(dev_read8(&pin, 0, 1), 0x45);
	assert_int_equal(pinmm_file_writeback(dsk), 1);
	assert_int_equal(pinmm_file_writeback(mem), 0);	/* shmem: no writeback */
	assert_int_equal(pinmm_file_writeback(NULL), -EINVAL);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_file_put(mem);
	pinmm_file_put(dsk);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrate_unpinned_moves_and_keeps_data),
		cmocka_unit_test(migrate_keeps_zone),
		cmocka_unit_test(migrate_keeps_dirty),
		cmocka_unit_test(migrate_shared_after_fork_moves_both),
		cmocka_unit_test(migrate_shmem_moves_cache_and_mappings),
		cmocka_unit_test(migrate_pinned_refused),
		cmocka_unit_test(migrate_pinned_off_detected),
		cmocka_unit_test(migrate_with_get_reference_eagain),
		cmocka_unit_test(numa_hint_moves_unpinned),
		cmocka_unit_test(numa_hint_skips_pinned),
		cmocka_unit_test(numa_hint_off_detected),
		cmocka_unit_test(longterm_pin_leaves_movable),
		cmocka_unit_test(longterm_off_detected),
		cmocka_unit_test(longterm_enomem_when_normal_full),
		cmocka_unit_test(longterm_enomem_when_page_cannot_move),
		cmocka_unit_test(compaction_skips_pinned),
		cmocka_unit_test(compaction_off_detected),
		cmocka_unit_test(file_shared_and_private_mappings),
		cmocka_unit_test(file_kinds_and_writeback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
