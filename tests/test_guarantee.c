/* SPDX-License-Identifier: MIT */
/*
 * tests/test_guarantee.c - GUARANTEE.md row by row (the deterministic,
 * single-thread parts of G1, E, G2, G3's COW/fork rows, G4 and G5).
 *
 * A scenario returns whether the guarantee held, collecting each
 * observation with OBS() (which says which one failed). In `strict` every
 * scenario must hold; with the fix switch that closes its historical
 * failure turned off, the same scenario must detect the failure (return
 * false). Setup steps and observations that hold under every policy are
 * plain asserts. Every run ends with no leak and the invariants holding,
 * whatever the policy: the legacy failures are about coherence, not about
 * accounting.
 */
#include "helpers.h"

typedef bool (*scenario_fn)(struct pinmm *eng);

static void obs(bool *held, bool ok, const char *what, int line)
{
	if (!ok) {
		print_message("    observation failed (line %d): %s\n", line, what);
		*held = false;
	}
}
#define OBS(c) obs(&held, (c), #c, __LINE__)

static void run_expect(scenario_fn fn, struct pinmm_policy p, bool expect_hold)
{
	char name[128];
	struct pinmm *eng = make_engine(p);

	pinmm_policy_format(p, name, sizeof(name));
	bool held = fn(eng);
	if (held != expect_hold)
		print_error("policy %s: guarantee %s, expected it to %s\n", name,
			    held ? "held" : "broke", expect_hold ? "hold" : "break");
	assert_int_equal(held, expect_hold);
	finish_engine(eng);
}

/* In strict it holds; with switch sw off it must break. */
#define HOLDS(test, fn) \
	static void test(void **s) { (void)s; run_expect(fn, policy_strict(), true); }
#define BREAKS_WITHOUT(test, fn, sw) \
	static void test(void **s) \
	{ (void)s; run_expect(fn, policy_strict_without(sw), false); }
/* legacy with the switches the engine cannot turn off yet left on; plus
 * extra switches turned back on */
#define BREAKS_LEGACY(test, fn, plus) \
	static void test(void **s) \
	{ \
		(void)s; \
		struct pinmm_policy p = policy_legacy_implemented(); \
		p.on |= (plus); \
		run_expect(fn, p, false); \
	}
#define BREAKS_WITH(test, fn, text) \
	static void test(void **s) \
	{ (void)s; run_expect(fn, policy_from_text(text), false); }

/* ========================================================= G1 / fork === */

/*
 * (a) A R/W pin, then fork, then the parent stores: the parent (the pinner)
 * keeps the pinned page mapped; the child has its own copy at fork time.
 */
static bool fork_after_pin(struct pinmm *eng, unsigned flags, bool fast)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x11, 2 * PG);
	pin_ok(mm, &pin, a, 2, flags, fast, pages);
	struct pinmm_mm *child = fork_mm(mm);

	/* the parent stores: the device sees it */
	store8(mm, a + 5, 0x22);
	store8(mm, a + PG + 5, 0x23);
	assert_int_equal(load8(child, a + 5), 0x11);	/* any policy */
	OBS(dev_read8(&pin, 0, 5) == 0x22);
	OBS(dev_read8(&pin, 1, 5) == 0x23);
	/* the device writes: the parent sees it, the child does not */
	dev_write8(&pin, 0, 6, 0x33);
	OBS(load8(mm, a + 6) == 0x33);
	OBS(load8(child, a + 6) == 0x11);
	/* the child's writes reach neither */
	store8(child, a + 7, 0x44);
	OBS(dev_read8(&pin, 0, 7) == 0x11);
	OBS(load8(mm, a + 7) == 0x11);
	OBS(pinmm_check_mapped(&pin, mm, a));
	OBS(is_coherent(&pin, mm, a));

	pinmm_mm_exit(child);
	/* still coherent once the child is gone */
	OBS(is_coherent(&pin, mm, a));
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}

static bool fork_after_rw_longterm_pin(struct pinmm *eng)
{
	return fork_after_pin(eng, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false);
}
static bool fork_after_rw_pin(struct pinmm *eng)
{
	return fork_after_pin(eng, PINMM_FOLL_WRITE, false);
}
static bool fork_after_rw_fast_pin(struct pinmm *eng)
{
	return fork_after_pin(eng, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true);
}

HOLDS(g1_fork_rw_longterm_pin_strict, fork_after_rw_longterm_pin)
BREAKS_WITHOUT(g1_fork_rw_longterm_pin_no_fork_copy_pinned,
	       fork_after_rw_longterm_pin, PINMM_SW_FORK_COPY_PINNED)
BREAKS_WITH(g1_fork_rw_longterm_pin_legacy, fork_after_rw_longterm_pin,
	    "legacy")
BREAKS_LEGACY(g1_fork_rw_longterm_pin_legacy_implemented,
	      fork_after_rw_longterm_pin, 0)
HOLDS(g1_fork_rw_pin_strict, fork_after_rw_pin)
BREAKS_WITHOUT(g1_fork_rw_pin_no_fork_copy_pinned, fork_after_rw_pin,
	       PINMM_SW_FORK_COPY_PINNED)
HOLDS(g4_fork_after_fast_pin_strict, fork_after_rw_fast_pin)
BREAKS_WITHOUT(g4_fork_after_fast_pin_no_fork_copy_pinned,
	       fork_after_rw_fast_pin, PINMM_SW_FORK_COPY_PINNED)

/* the child writes first, then the parent: the parent still must not
 * move off its pinned page */
static bool fork_after_pin_child_writes_first(struct pinmm *eng)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x11, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	struct pinmm_mm *child = fork_mm(mm);
	store8(child, a, 0x55);
	assert_int_equal(load8(child, a), 0x55);
	assert_int_equal(load8(mm, a), 0x11);
	store8(mm, a + 1, 0x66);
	OBS(dev_read8(&pin, 0, 1) == 0x66);
	OBS(dev_read8(&pin, 0, 0) == 0x11);
	OBS(pinmm_check_mapped(&pin, mm, a));
	OBS(is_coherent(&pin, mm, a));
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}
HOLDS(g1_fork_child_writes_first_strict, fork_after_pin_child_writes_first)
BREAKS_WITHOUT(g1_fork_child_writes_first_no_fork_copy_pinned,
	       fork_after_pin_child_writes_first, PINMM_SW_FORK_COPY_PINNED)

/* G3 fork row: the pinned private page is copied for the child at fork
 * time; the parent keeps p mapped writable. Unpinned pages stay shared. */
static bool fork_early_copy(struct pinmm *eng)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x21, 2 * PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pages);
	size_t early = get_stats(eng).fork_early_copies;
	struct pinmm_mm *child = fork_mm(mm);
	uint64_t p = pinmm_page_pfn(pages[0]);

	/* the unpinned page is shared copy-on-write under every policy */
	assert_int_equal(pfn_at(child, a + PG), pfn_at(mm, a + PG));
	assert_int_equal(load8(child, a), 0x21);
	/* the pinned one */
	OBS(pfn_at(mm, a) == p);
	OBS(pfn_at(child, a) != p);
	OBS(follow(mm, a).writable);
	OBS(follow(mm, a).anon_exclusive);
	OBS(get_stats(eng).fork_early_copies == early + 1);
	OBS(finfo(pages[0]).mapcount == 1);
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}
HOLDS(g3_fork_early_copy_strict, fork_early_copy)
BREAKS_WITHOUT(g3_fork_early_copy_no_fork_copy_pinned, fork_early_copy,
	       PINMM_SW_FORK_COPY_PINNED)

/* ====================================================== G1 basic rows === */

static void g1_rw_pin_both_ways(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	for (int fast = 0; fast < 2; fast++) {
		pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE, fast, pages);
		for (unsigned v = 1; v < 50; v++) {
			dev_write8(&pin, v & 1, v, (uint8_t)v);
			assert_int_equal(load8(mm, a + (v & 1) * PG + v), v);
			store8(mm, a + (v & 1) * PG + v + 100, (uint8_t)(v + 1));
			assert_int_equal(dev_read8(&pin, v & 1, v + 100), v + 1);
		}
		assert_true(pinmm_check_mapped(&pin, mm, a));
		assert_coherent(&pin, mm, a);
		unpin_ok(&pin);
	}
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void g1_ro_longterm_pin_both_ways(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x10, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, false, pages);
	for (unsigned v = 1; v < 20; v++) {
		store8(mm, a + v, (uint8_t)(0x80 + v));
		assert_int_equal(dev_read8(&pin, 0, v), 0x80 + v);
	}
	assert_true(pinmm_check_mapped(&pin, mm, a));
	assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* other activity in the mm (faults, writes, forks, other mms) does not move
 * the pinned page */
static void g1_holds_under_other_activity(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_mm *other = make_mm(eng);
	uint64_t a = map_rw(mm, 16);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a + 3 * PG, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
	       false, pages);
	uint64_t p = pinmm_page_pfn(pages[0]);
	for (unsigned round = 0; round < 4; round++) {
		for (unsigned i = 0; i < 16; i++)
			if (i != 3)
				fill(mm, a + i * PG, (uint8_t)(round + i), 64);
		struct pinmm_mm *child = fork_mm(mm);
		fill(child, a, 0xCC, 16 * PG);	/* the child writes everywhere */
		uint64_t o = map_rw_populated(other, 4);
		fill(other, o, 1, 4 * PG);
		assert_int_equal(pfn_at(mm, a + 3 * PG), p);
		assert_coherent(&pin, mm, a + 3 * PG);
		store8(mm, a + 3 * PG + round, (uint8_t)(0xF0 + round));
		assert_int_equal(dev_read8(&pin, 0, round), 0xF0 + round);
		pinmm_mm_exit(child);
		assert_int_equal(pinmm_munmap(other, o, 4 * PG), 0);
		/* neighbours come and go */
		assert_int_equal(pinmm_madvise(mm, a + 4 * PG, 4 * PG,
					       PINMM_MADV_DONTNEED), 0);
		assert_int_equal(pinmm_mprotect(mm, a + 8 * PG, PG, PROT_R), 0);
		assert_int_equal(pinmm_mprotect(mm, a + 8 * PG, PG, PROT_RW), 0);
		assert_coherent(&pin, mm, a + 3 * PG);
	}
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(other);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ================================================================ E rows === */

static void e_munmap_page_lives_until_unpin(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x31, 2 * PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	assert_int_equal(pinmm_munmap(mm, a, 2 * PG), 0);
	assert_int_equal(load_err(mm, a), -EFAULT);
	assert_false(pinmm_check_mapped(&pin, mm, a));
	/* the page lives: only it is left */
	assert_int_equal(frames_used(eng), 1);
	struct pinmm_folio_info fi = finfo(pages[0]);
	assert_true(fi.refcount >= 1);
	assert_int_equal(fi.mapcount, 0);
	assert_int_equal(fi.pincount, 1);
	assert_int_equal(dev_read8(&pin, 0, 100), 0x31);
	dev_write8(&pin, 0, 100, 0x32);
	assert_int_equal(dev_read8(&pin, 0, 100), 0x32);
	assert_invariants(eng);
	unpin_ok(&pin);
	/* freed exactly when the last reference went */
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_mmap_fixed_over_pin(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1), out = 0;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x41, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, true, pages);
	assert_int_equal(pinmm_mmap(mm, a, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out), 0);
	/* a new, empty mapping; the pinned page is no longer at a */
	assert_int_equal(load8(mm, a), 0);
	store8(mm, a, 0x42);
	assert_int_not_equal(pfn_at(mm, a), pinmm_page_pfn(pages[0]));
	assert_false(pinmm_check_mapped(&pin, mm, a));
	assert_int_equal(dev_read8(&pin, 0, 0), 0x41);
	assert_int_equal(dev_read8(&pin, 0, 1), 0x41);
	unpin_ok(&pin);
	assert_int_equal(load8(mm, a), 0x42);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_exit_page_lives_until_unpin(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 3);
	struct pinmm_page *pages[3];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x51, 3 * PG);
	pin_ok(mm, &pin, a + PG, 1, PINMM_FOLL_WRITE, false, pages);
	pinmm_mm_exit(mm);
	assert_int_equal(get_stats(eng).nr_mms, 0);
	assert_int_equal(frames_used(eng), 1);
	assert_int_equal(dev_read8(&pin, 0, 0), 0x51);
	assert_invariants(eng);
	unpin_ok(&pin);
	finish_engine(eng);
}

static void e_dontneed_new_page_pin_intact(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x61, 2 * PG);
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	assert_int_equal(pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_DONTNEED), 0);
	/* a later access maps a new page: zeros, another frame */
	assert_int_equal(load8(mm, a), 0);
	store8(mm, a + 1, 0x62);
	assert_int_not_equal(pfn_at(mm, a), pinmm_page_pfn(pages[0]));
	assert_false(pinmm_check_mapped(&pin, mm, a));
	/* the pinned data is intact */
	assert_int_equal(dev_read8(&pin, 0, 1), 0x61);
	assert_int_equal(dev_read8(&pin, 1, 1), 0x61);
	/* and the two no longer talk to each other */
	dev_write8(&pin, 0, 2, 0x63);
	assert_int_equal(load8(mm, a + 2), 0);
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_free_pin_intact(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x71, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	int r = pinmm_madvise(mm, a, PG, PINMM_MADV_FREE);
	if (r == -EOPNOTSUPP) {
		unpin_ok(&pin);
		pinmm_mm_exit(mm);
		finish_engine(eng);
		print_message("MADV_FREE not implemented: skipped\n");
		skip();
	}
	assert_int_equal(r, 0);
	/* whatever the CPU sees now, the device's page is intact */
	assert_int_equal(dev_read8(&pin, 0, 5), 0x71);
	uint8_t v = load8(mm, a + 5);
	assert_true(v == 0x71 || v == 0);
	store8(mm, a + 6, 0x72);
	assert_int_equal(load8(mm, a + 6), 0x72);
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_mremap_pin_moves(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4), dst = map_rw(mm, 8), out = 0;
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_munmap(mm, dst, 8 * PG), 0);
	fill(mm, a, 0x81, 4 * PG);
	pin_ok(mm, &pin, a + PG, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false,
	       pages);
	assert_int_equal(pinmm_mremap(mm, a, 4 * PG, 4 * PG,
				      PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
				      dst, &out), 0);
	assert_int_equal(out, dst);
	assert_int_equal(load_err(mm, a + PG), -EFAULT);
	assert_int_equal(pfn_at(mm, dst + PG), pinmm_page_pfn(pages[0]));
	assert_int_equal(pfn_at(mm, dst + 2 * PG), pinmm_page_pfn(pages[1]));
	assert_true(pinmm_check_mapped(&pin, mm, dst + PG));
	assert_coherent(&pin, mm, dst + PG);
	/* writable at the new address, reaching the pinned page */
	store8(mm, dst + 2 * PG + 3, 0x82);
	assert_int_equal(dev_read8(&pin, 1, 3), 0x82);
	dev_write8(&pin, 0, 3, 0x83);
	assert_int_equal(load8(mm, dst + PG + 3), 0x83);

	/* grow with MAYMOVE where it cannot grow in place: moves again */
	uint64_t blocker = 0;
	assert_int_equal(pinmm_mmap(mm, dst + 4 * PG, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &blocker), 0);
	assert_int_equal(pinmm_mremap(mm, dst, 4 * PG, 8 * PG,
				      PINMM_MREMAP_MAYMOVE, 0, &out), 0);
	assert_int_not_equal(out, dst);
	assert_true(pinmm_check_mapped(&pin, mm, out + PG));
	assert_coherent(&pin, mm, out + PG);
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_mremap_dontunmap_pin_moves(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1), out = 0;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x91, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	assert_int_equal(pinmm_mremap(mm, a, PG, PG,
				      PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_DONTUNMAP,
				      0, &out), 0);
	assert_int_not_equal(out, a);
	assert_true(pinmm_check_mapped(&pin, mm, out));
	assert_coherent(&pin, mm, out);
	assert_false(pinmm_check_mapped(&pin, mm, a));
	assert_int_equal(load8(mm, a), 0);	/* old range: empty */
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_dontfork_child_has_no_mapping(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0xA1, 2 * PG);
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	assert_int_equal(pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_DONTFORK), 0);
	size_t early = get_stats(eng).fork_early_copies;
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load_err(child, a), -EFAULT);
	assert_int_equal(load_err(child, a + PG), -EFAULT);
	assert_int_equal(store_err(child, a, 1), -EFAULT);
	struct pinmm_mapping m;
	assert_int_equal(pinmm_follow_page(child, a, &m), -EFAULT);
	/* nothing to copy */
	assert_int_equal(get_stats(eng).fork_early_copies, early);
	store8(mm, a, 0xA2);
	assert_int_equal(dev_read8(&pin, 0, 0), 0xA2);
	assert_coherent(&pin, mm, a);
	assert_int_equal(finfo(pages[0]).mapcount, 1);
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void e_mprotect_same_page(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0xB1, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	uint64_t p = pinmm_page_pfn(pages[0]);
	size_t copies = get_stats(eng).cow_copies;

	assert_int_equal(pinmm_mprotect(mm, a, PG, PINMM_PROT_NONE), 0);
	assert_int_equal(load_err(mm, a), -EACCES);
	dev_write8(&pin, 0, 0, 0xB2);	/* the device still writes */
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_RW), 0);
	assert_int_equal(pfn_at(mm, a), p);
	assert_int_equal(load8(mm, a), 0xB2);
	/* R/O and back: the write fault reuses the pinned exclusive page */
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_R), 0);
	assert_int_equal(store_err(mm, a, 1), -EACCES);
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_RW), 0);
	store8(mm, a + 1, 0xB3);
	assert_int_equal(pfn_at(mm, a), p);
	assert_int_equal(dev_read8(&pin, 0, 1), 0xB3);
	assert_int_equal(get_stats(eng).cow_copies, copies);
	assert_true(pinmm_check_mapped(&pin, mm, a));
	assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ================================================================== G2 === */

/*
 * (b) fork, then the parent takes a R/O longterm pin: the pin unshares the
 * page first (it becomes exclusive to the parent), so the parent's later
 * stores reuse it and the device sees them.
 */
static bool ro_longterm_pin_after_fork(struct pinmm *eng, bool fast)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x11, PG);
	struct pinmm_mm *child = fork_mm(mm);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, fast, pages);
	assert_int_equal(dev_read8(&pin, 0, 0), 0x11);	/* any policy */
	OBS(follow(mm, a).anon_exclusive);
	OBS(pinmm_page_pfn(pages[0]) != pfn_at(child, a));
	store8(mm, a, 0x22);
	assert_int_equal(load8(child, a), 0x11);	/* any policy */
	OBS(dev_read8(&pin, 0, 0) == 0x22);
	OBS(pinmm_check_mapped(&pin, mm, a));
	OBS(is_coherent(&pin, mm, a));
	/* the child's store is not seen by the parent's pin */
	store8(child, a + 1, 0x33);
	OBS(dev_read8(&pin, 0, 1) == 0x11);
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}
static bool ro_longterm_pin_after_fork_slow(struct pinmm *eng)
{
	return ro_longterm_pin_after_fork(eng, false);
}
static bool ro_longterm_pin_after_fork_fast(struct pinmm *eng)
{
	return ro_longterm_pin_after_fork(eng, true);
}
HOLDS(g2_ro_longterm_unshare_strict, ro_longterm_pin_after_fork_slow)
BREAKS_WITHOUT(g2_ro_longterm_unshare_no_anon_exclusive,
	       ro_longterm_pin_after_fork_slow, PINMM_SW_ANON_EXCLUSIVE)
HOLDS(g2_ro_longterm_unshare_fast_strict, ro_longterm_pin_after_fork_fast)
BREAKS_WITHOUT(g2_ro_longterm_unshare_fast_no_anon_exclusive,
	       ro_longterm_pin_after_fork_fast, PINMM_SW_ANON_EXCLUSIVE)
BREAKS_WITH(g2_ro_longterm_unshare_legacy, ro_longterm_pin_after_fork_slow,
	    "legacy")
BREAKS_LEGACY(g2_ro_longterm_unshare_legacy_implemented,
	      ro_longterm_pin_after_fork_slow, 0)

/* a R/O longterm pin of an exclusive page: CPU writes reuse it (no copy) */
static void g2_ro_longterm_exclusive_reuse(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x11, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, false, pages);
	uint64_t p = pinmm_page_pfn(pages[0]);
	assert_true(follow(mm, a).anon_exclusive);
	/* force a write fault: R/O then R/W again */
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_R), 0);
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_RW), 0);
	store8(mm, a, 0x12);
	assert_int_equal(pfn_at(mm, a), p);
	assert_int_equal(dev_read8(&pin, 0, 0), 0x12);
	assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* a R/O pin without LONGTERM: the device reads what v held at pin time */
static void g2_ro_shortterm_snapshot(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x15, PG);
	fill(mm, a + PG, 0x16, PG);
	struct pinmm_mm *child = fork_mm(mm);	/* shared COW pages */
	for (int fast = 0; fast < 2; fast++) {
		pin_ok(mm, &pin, a, 2, 0, fast, pages);
		assert_int_equal(dev_read8(&pin, 0, 0), 0x15);
		assert_int_equal(dev_read8(&pin, 1, PG - 1), 0x16);
		unpin_ok(&pin);
		pin_ok(child, &pin, a, 2, 0, fast, pages);
		assert_int_equal(dev_read8(&pin, 0, 10), 0x15);
		assert_int_equal(dev_read8(&pin, 1, 10), 0x16);
		unpin_ok(&pin);
	}
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * (c) CVE-2020-29374 (vmsplice): after fork the child takes a R/O reference
 * to the page it shares with its parent, unmaps it, and the parent writes.
 * The child's reference must keep showing the old data ("COW can break
 * either way" must not let the child read the parent's later writes).
 */
static bool child_ref_after_fork(struct pinmm *eng, bool pin, bool fast)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin ref;

	zero_pin(&ref);
	fill(mm, a, 0x11, PG);
	struct pinmm_mm *child = fork_mm(mm);
	if (pin)
		pin_ok(child, &ref, a, 1, 0, fast, pages);
	else
		assert_int_equal(pinmm_get(child, &ref, a, 1, 0, fast, pages), 0);
	assert_int_equal(dev_read8(&ref, 0, 0), 0x11);
	assert_int_equal(pinmm_munmap(child, a, PG), 0);
	store8(mm, a, 0x22);
	store8(mm, a + 100, 0x23);
	assert_int_equal(load8(mm, a), 0x22);	/* any policy */
	OBS(dev_read8(&ref, 0, 0) == 0x11);
	OBS(dev_read8(&ref, 0, 100) == 0x11);
	if (pin)
		unpin_ok(&ref);
	else
		assert_int_equal(pinmm_put(&ref), 0);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	return held;
}
static bool child_get_slow(struct pinmm *e) { return child_ref_after_fork(e, false, false); }
static bool child_get_fast(struct pinmm *e) { return child_ref_after_fork(e, false, true); }
static bool child_pin_slow(struct pinmm *e) { return child_ref_after_fork(e, true, false); }
static bool child_pin_fast(struct pinmm *e) { return child_ref_after_fork(e, true, true); }

HOLDS(g2_cve_2020_29374_get_strict, child_get_slow)
BREAKS_WITH(g2_cve_2020_29374_get_no_anon_exclusive, child_get_slow,
	    "strict,-anon_exclusive")
HOLDS(g2_cve_2020_29374_get_fast_strict, child_get_fast)
BREAKS_WITH(g2_cve_2020_29374_get_fast_no_anon_exclusive, child_get_fast,
	    "strict,-anon_exclusive")
HOLDS(g2_cve_2020_29374_pin_strict, child_pin_slow)
BREAKS_WITH(g2_cve_2020_29374_pin_no_anon_exclusive, child_pin_slow,
	    "strict,-anon_exclusive")
HOLDS(g2_cve_2020_29374_pin_fast_strict, child_pin_fast)
BREAKS_WITH(g2_cve_2020_29374_pin_fast_no_anon_exclusive, child_pin_fast,
	    "strict,-anon_exclusive")
BREAKS_WITH(g2_cve_2020_29374_get_legacy, child_get_slow, "legacy")
BREAKS_LEGACY(g2_cve_2020_29374_get_legacy_implemented, child_get_slow, 0)
BREAKS_LEGACY(g2_cve_2020_29374_pin_legacy_implemented, child_pin_slow, 0)

/* A R/O longterm pin of the zero page gets a real, exclusive page. */
static bool ro_longterm_pin_of_zero_page(struct pinmm *eng)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(load8(mm, a), 0);
	assert_true(follow(mm, a).zero_page);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, false, pages);
	OBS(!finfo(pages[0]).zero);
	struct pinmm_mapping m = follow(mm, a);
	OBS(m.present && !m.zero_page);
	OBS(m.pfn == pinmm_page_pfn(pages[0]));
	OBS(m.anon_exclusive);
	store8(mm, a + 8, 0x5E);
	OBS(dev_read8(&pin, 0, 8) == 0x5E);
	OBS(is_coherent(&pin, mm, a));
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}
HOLDS(g2_ro_longterm_zero_page_strict, ro_longterm_pin_of_zero_page)

/*
 * A R/O longterm pin of a MAP_PRIVATE file mapping takes the private copy
 * first (84209e87c696, 6.2): the process's later write reuses the pinned
 * page, the device sees it, and the file is untouched.
 */
static bool ro_longterm_pin_of_private_file(struct pinmm *eng, bool fast)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;
	uint64_t a;
	uint8_t b;

	zero_pin(&pin);
	assert_int_equal(pinmm_file_create(eng, PG, 0x41, &f), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	assert_int_equal(load8(mm, a), 0x41);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, fast, pages);
	OBS(finfo(pages[0]).anon);
	OBS(follow(mm, a).anon_exclusive);
	store8(mm, a + 8, 0x42);
	OBS(pfn_at(mm, a) == pinmm_page_pfn(pages[0]));
	OBS(dev_read8(&pin, 0, 8) == 0x42);
	OBS(is_coherent(&pin, mm, a));
	assert_int_equal(pinmm_file_read(f, 8, &b, 1), 0);
	assert_int_equal(b, 0x41);
	unpin_ok(&pin);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	return held;
}
static bool ro_longterm_pin_of_private_file_slow(struct pinmm *eng)
{
	return ro_longterm_pin_of_private_file(eng, false);
}
static bool ro_longterm_pin_of_private_file_fast(struct pinmm *eng)
{
	return ro_longterm_pin_of_private_file(eng, true);
}
HOLDS(g2_ro_longterm_private_file_strict, ro_longterm_pin_of_private_file_slow)
HOLDS(g2_ro_longterm_private_file_fast_strict, ro_longterm_pin_of_private_file_fast)
BREAKS_WITHOUT(g2_ro_longterm_private_file_no_cow_unshare, ro_longterm_pin_of_private_file_slow,
	       PINMM_SW_RO_LONGTERM_COW_UNSHARE)
BREAKS_WITHOUT(g2_ro_longterm_private_file_fast_no_cow_unshare,
	       ro_longterm_pin_of_private_file_fast, PINMM_SW_RO_LONGTERM_COW_UNSHARE)

/* ======================================================= pin_accounting === */

/* (d) a pin must be told apart from other references: folio_maybe_dma_pinned
 * answers true while it is held, and fork then copies the page. */
static bool pin_is_visible(struct pinmm *eng)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x11, PG);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pages);
	struct pinmm_folio_info fi = finfo(pages[0]);
	OBS(fi.maybe_dma_pinned);
	OBS(fi.pincount == 1);
	struct pinmm_mm *child = fork_mm(mm);
	store8(mm, a, 0x22);
	OBS(dev_read8(&pin, 0, 0) == 0x22);
	OBS(pinmm_check_mapped(&pin, mm, a));
	OBS(is_coherent(&pin, mm, a));
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	OBS(!finfo_at(mm, a).maybe_dma_pinned);
	pinmm_mm_exit(mm);
	return held;
}
HOLDS(g5_pin_accounting_strict, pin_is_visible)
BREAKS_WITHOUT(g5_pin_accounting_off, pin_is_visible, PINMM_SW_PIN_ACCOUNTING)
BREAKS_WITH(g5_pin_accounting_legacy, pin_is_visible, "legacy")
BREAKS_LEGACY(g5_pin_accounting_legacy_implemented, pin_is_visible, 0)

/* with pin_accounting alone turned back on, legacy still breaks (a): the
 * pin is visible, but fork does not act on it */
BREAKS_WITH(g1_fork_legacy_plus_pin_accounting, fork_after_rw_longterm_pin,
	    "legacy,+pin_accounting")
BREAKS_LEGACY(g1_fork_legacy_implemented_plus_pin_accounting,
	      fork_after_rw_longterm_pin, 1u << PINMM_SW_PIN_ACCOUNTING)
/* anon_exclusive alone on (fork_copy_pinned off) is not enough either */
BREAKS_LEGACY(g1_fork_legacy_implemented_plus_anon_exclusive,
	      fork_after_rw_longterm_pin,
	      (1u << PINMM_SW_PIN_ACCOUNTING) | (1u << PINMM_SW_ANON_EXCLUSIVE))

/* ================================================================= G4 === */

/* a fast R/W pin of a page write-protected by fork (shared COW) must not pin
 * the shared page: it falls back and breaks COW first */
static bool fast_rw_pin_of_cow_page(struct pinmm *eng)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x11, PG);
	struct pinmm_mm *child = fork_mm(mm);
	uint64_t shared = pfn_at(mm, a);
	assert_int_equal(pfn_at(child, a), shared);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, true, pages);
	OBS(pinmm_page_pfn(pages[0]) != pfn_at(child, a));
	OBS(pinmm_check_mapped(&pin, mm, a));
	OBS(follow(mm, a).writable);
	dev_write8(&pin, 0, 0, 0x22);
	OBS(load8(child, a) == 0x11);
	OBS(load8(mm, a) == 0x22);
	store8(mm, a + 1, 0x33);
	OBS(dev_read8(&pin, 0, 1) == 0x33);
	OBS(is_coherent(&pin, mm, a));
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}
HOLDS(g4_fast_rw_pin_of_cow_page_strict, fast_rw_pin_of_cow_page)

static void g4_fast_pin_maps_what_was_mapped(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 8);
	struct pinmm_page *pages[8];
	struct pinmm_pin pin;
	uint64_t pfn[8];

	zero_pin(&pin);
	for (unsigned i = 0; i < 8; i++)
		pfn[i] = pfn_at(mm, a + i * PG);
	size_t fb = get_stats(eng).gup_fast_fallbacks;
	pin_ok(mm, &pin, a, 8, PINMM_FOLL_WRITE, true, pages);
	/* populated and writable: the fast path needs no fallback */
	assert_int_equal(get_stats(eng).gup_fast_fallbacks, fb);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(pinmm_page_pfn(pages[i]), pfn[i]);
	assert_true(pinmm_check_mapped(&pin, mm, a));
	/* fork afterwards behaves: parent coherent, child has copies */
	struct pinmm_mm *child = fork_mm(mm);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(pfn_at(mm, a + i * PG), pfn[i]);
		assert_int_not_equal(pfn_at(child, a + i * PG), pfn[i]);
	}
	assert_coherent(&pin, mm, a);
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ================================================================== G5 === */

static void g5_counts_and_lifetime(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *p1[1], *p2[1], *p3[1];
	struct pinmm_pin x, y, g;

	zero_pin(&x);
	zero_pin(&y);
	zero_pin(&g);
	pin_ok(mm, &x, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, p1);
	pin_ok(mm, &y, a, 1, 0, true, p2);
	assert_int_equal(pinmm_get(mm, &g, a, 1, 0, false, p3), 0);
	struct pinmm_mm *child = fork_mm(mm);
	assert_invariants(eng);
	int r1 = finfo(p1[0]).refcount;
	/* each holder adds to refcount */
	assert_int_equal(finfo(p1[0]).pincount, 2);
	assert_true(r1 >= 4);
	/* a failed unpin changes nothing */
	assert_int_equal(pinmm_put(&x), -EINVAL);
	assert_int_equal(finfo(p1[0]).refcount, r1);
	/* the page lives through munmap, exit and until the last holder */
	assert_int_equal(pinmm_munmap(mm, a, PG), 0);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 1);
	assert_int_equal(finfo(p1[0]).mapcount, 0);
	assert_invariants(eng);
	unpin_ok(&x);
	assert_int_equal(frames_used(eng), 1);
	assert_int_equal(pinmm_put(&g), 0);
	assert_int_equal(frames_used(eng), 1);
	assert_int_equal(finfo(p2[0]).pincount, 1);
	assert_invariants(eng);
	unpin_ok(&y);
	assert_int_equal(frames_used(eng), 0);
	/* pincount never negative: an extra unpin is refused, not counted */
	assert_int_equal(pinmm_unpin(&y), -EINVAL);
	finish_engine(eng);
}

static void g5_page_layer_unpin_of_unpinned(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];

	assert_int_equal(pinmm_pin_user_pages(mm, a, 1, PINMM_FOLL_WRITE, pages), 1);
	assert_int_equal(pinmm_unpin_user_page(pages[0], true), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pinmm_unpin_user_page(pages[0], false), -EINVAL);
		struct pinmm_folio_info fi = finfo(pages[0]);
		assert_int_equal(fi.pincount, 0);
		assert_true(fi.refcount >= 1);	/* still mapped */
		assert_false(fi.maybe_dma_pinned);
	}
	assert_invariants(eng);
	assert_int_equal(load8(mm, a), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void g5_invariants_at_every_step(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_page *pages[4];
	struct pinmm_pin pin;
	uint64_t out;

	zero_pin(&pin);
	uint64_t a = map_rw(mm, 8);
	assert_invariants(eng);
	fill(mm, a, 1, 8 * PG);
	assert_invariants(eng);
	pin_ok(mm, &pin, a + 2 * PG, 4, PINMM_FOLL_WRITE, false, pages);
	assert_invariants(eng);
	struct pinmm_mm *child = fork_mm(mm);
	assert_invariants(eng);
	fill(child, a, 2, 8 * PG);
	assert_invariants(eng);
	assert_int_equal(pinmm_madvise(mm, a, 3 * PG, PINMM_MADV_DONTNEED), 0);
	assert_invariants(eng);
	assert_int_equal(pinmm_mprotect(mm, a + 3 * PG, PG, PROT_R), 0);
	assert_invariants(eng);
	assert_int_equal(pinmm_mremap(mm, a + 4 * PG, 4 * PG, 4 * PG,
				      PINMM_MREMAP_MAYMOVE, 0, &out), 0);
	assert_invariants(eng);
	assert_int_equal(pinmm_munmap(mm, a, 4 * PG), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_invariants(eng);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	finish_engine(eng);
}


/* ================================================ G3 fork row, THP === */

/* A 4 KiB pin inside a PMD-mapped THP, then fork: the parent keeps the
 * pinned page mapped at the same address (a PMD split is allowed: the same
 * physical pages stay mapped); the child gets its own copy. */
static bool fork_after_pin_in_thp(struct pinmm *eng, unsigned flags)
{
	bool held = true;
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;
	uint64_t v = a + 7 * PG;

	zero_pin(&pin);
	assert_int_equal(pinmm_madvise(mm, a, PINMM_PMD_SIZE, PINMM_MADV_HUGEPAGE), 0);
	fill(mm, a, 0x11, PINMM_PMD_SIZE);
	struct pinmm_mapping m = follow(mm, v);
	if (!m.huge) {
		pinmm_mm_exit(mm);
		finish_engine(eng);
		print_message("no THP for a MADV_HUGEPAGE region: skipped\n");
		skip();
	}
	assert_int_equal(m.order, PINMM_HPAGE_ORDER);
	pin_ok(mm, &pin, v, 1, flags, false, pages);
	uint64_t p = pinmm_page_pfn(pages[0]);
	struct pinmm_mm *child = fork_mm(mm);

	/* other pages of the range: the child sees the pre-fork data */
	assert_int_equal(load8(child, a), 0x11);	/* any policy */
	OBS(pfn_at(mm, v) == p);
	OBS(pfn_at(child, v) != p);
	store8(mm, v + 1, 0x22);
	OBS(dev_read8(&pin, 0, 1) == 0x22);
	dev_write8(&pin, 0, 2, 0x33);
	OBS(load8(mm, v + 2) == 0x33);
	OBS(load8(child, v + 2) == 0x11);
	/* the neighbours are still the parent's own data */
	store8(mm, a, 0x44);
	OBS(load8(child, a) == 0x11);
	OBS(pinmm_check_mapped(&pin, mm, v));
	OBS(is_coherent(&pin, mm, v));
	pinmm_mm_exit(child);
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	return held;
}
static bool fork_after_rw_pin_in_thp(struct pinmm *eng)
{
	return fork_after_pin_in_thp(eng, PINMM_FOLL_WRITE);
}
/* longterm: the THP is first moved out of the movable zone (or split) */
static bool fork_after_rw_longterm_pin_in_thp(struct pinmm *eng)
{
	return fork_after_pin_in_thp(eng, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM);
}
HOLDS(g3_fork_pin_in_thp_strict, fork_after_rw_pin_in_thp)
BREAKS_WITHOUT(g3_fork_pin_in_thp_no_fork_copy_pinned, fork_after_rw_pin_in_thp,
	       PINMM_SW_FORK_COPY_PINNED)
HOLDS(g3_fork_longterm_pin_in_thp_strict, fork_after_rw_longterm_pin_in_thp)
BREAKS_WITHOUT(g3_fork_longterm_pin_in_thp_no_fork_copy_pinned,
	       fork_after_rw_longterm_pin_in_thp, PINMM_SW_FORK_COPY_PINNED)

/* A pin in a THP, then the parent's store into another page of the same
 * THP after fork: with the PMD COW-shared, that write must not move the
 * pinned 4 KiB page away either. */
static void g3_thp_cow_keeps_pinned_subpage(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_madvise(mm, a, PINMM_PMD_SIZE, PINMM_MADV_HUGEPAGE), 0);
	fill(mm, a, 0x11, PINMM_PMD_SIZE);
	if (!follow(mm, a).huge) {
		pinmm_mm_exit(mm);
		finish_engine(eng);
		print_message("no THP for a MADV_HUGEPAGE region: skipped\n");
		skip();
	}
	pin_ok(mm, &pin, a + 100 * PG, 2, PINMM_FOLL_WRITE, true, pages);
	struct pinmm_mm *child = fork_mm(mm);
	for (unsigned i = 0; i < 512; i += 37)
		store8(mm, a + i * PG, (uint8_t)i);
	store8(child, a + 101 * PG, 0x99);
	assert_true(pinmm_check_mapped(&pin, mm, a + 100 * PG));
	assert_coherent(&pin, mm, a + 100 * PG);
	assert_int_equal(dev_read8(&pin, 1, 0), 0x11);
	for (unsigned i = 0; i < 512; i += 37)
		assert_int_equal(load8(child, a + i * PG), 0x11);
	pinmm_mm_exit(child);
	assert_coherent(&pin, mm, a + 100 * PG);
	assert_invariants(eng);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		/* G1 */
		cmocka_unit_test(g1_rw_pin_both_ways),
		cmocka_unit_test(g1_ro_longterm_pin_both_ways),
		cmocka_unit_test(g1_holds_under_other_activity),
		cmocka_unit_test(g1_fork_rw_longterm_pin_strict),
		cmocka_unit_test(g1_fork_rw_longterm_pin_no_fork_copy_pinned),
		cmocka_unit_test(g1_fork_rw_longterm_pin_legacy),
		cmocka_unit_test(g1_fork_rw_longterm_pin_legacy_implemented),
		cmocka_unit_test(g1_fork_legacy_plus_pin_accounting),
		cmocka_unit_test(g1_fork_legacy_implemented_plus_pin_accounting),
		cmocka_unit_test(g1_fork_legacy_implemented_plus_anon_exclusive),
		cmocka_unit_test(g1_fork_rw_pin_strict),
		cmocka_unit_test(g1_fork_rw_pin_no_fork_copy_pinned),
		cmocka_unit_test(g1_fork_child_writes_first_strict),
		cmocka_unit_test(g1_fork_child_writes_first_no_fork_copy_pinned),
		/* E */
		cmocka_unit_test(e_munmap_page_lives_until_unpin),
		cmocka_unit_test(e_mmap_fixed_over_pin),
		cmocka_unit_test(e_exit_page_lives_until_unpin),
		cmocka_unit_test(e_dontneed_new_page_pin_intact),
		cmocka_unit_test(e_free_pin_intact),
		cmocka_unit_test(e_mremap_pin_moves),
		cmocka_unit_test(e_mremap_dontunmap_pin_moves),
		cmocka_unit_test(e_dontfork_child_has_no_mapping),
		cmocka_unit_test(e_mprotect_same_page),
		/* G2 */
		cmocka_unit_test(g2_ro_longterm_unshare_strict),
		cmocka_unit_test(g2_ro_longterm_private_file_strict),
		cmocka_unit_test(g2_ro_longterm_private_file_fast_strict),
		cmocka_unit_test(g2_ro_longterm_private_file_no_cow_unshare),
		cmocka_unit_test(g2_ro_longterm_private_file_fast_no_cow_unshare),
		cmocka_unit_test(g2_ro_longterm_unshare_no_anon_exclusive),
		cmocka_unit_test(g2_ro_longterm_unshare_fast_strict),
		cmocka_unit_test(g2_ro_longterm_unshare_fast_no_anon_exclusive),
		cmocka_unit_test(g2_ro_longterm_unshare_legacy),
		cmocka_unit_test(g2_ro_longterm_unshare_legacy_implemented),
		cmocka_unit_test(g2_ro_longterm_exclusive_reuse),
		cmocka_unit_test(g2_ro_shortterm_snapshot),
		cmocka_unit_test(g2_cve_2020_29374_get_strict),
		cmocka_unit_test(g2_cve_2020_29374_get_no_anon_exclusive),
		cmocka_unit_test(g2_cve_2020_29374_get_fast_strict),
		cmocka_unit_test(g2_cve_2020_29374_get_fast_no_anon_exclusive),
		cmocka_unit_test(g2_cve_2020_29374_pin_strict),
		cmocka_unit_test(g2_cve_2020_29374_pin_no_anon_exclusive),
		cmocka_unit_test(g2_cve_2020_29374_pin_fast_strict),
		cmocka_unit_test(g2_cve_2020_29374_pin_fast_no_anon_exclusive),
		cmocka_unit_test(g2_cve_2020_29374_get_legacy),
		cmocka_unit_test(g2_cve_2020_29374_get_legacy_implemented),
		cmocka_unit_test(g2_cve_2020_29374_pin_legacy_implemented),
		cmocka_unit_test(g2_ro_longterm_zero_page_strict),
		/* G3 (COW / fork rows) */
		cmocka_unit_test(g3_fork_early_copy_strict),
		cmocka_unit_test(g3_fork_early_copy_no_fork_copy_pinned),
		cmocka_unit_test(g3_fork_pin_in_thp_strict),
		cmocka_unit_test(g3_fork_pin_in_thp_no_fork_copy_pinned),
		cmocka_unit_test(g3_fork_longterm_pin_in_thp_strict),
		cmocka_unit_test(g3_fork_longterm_pin_in_thp_no_fork_copy_pinned),
		cmocka_unit_test(g3_thp_cow_keeps_pinned_subpage),
		/* G4 (deterministic parts) */
		cmocka_unit_test(g4_fork_after_fast_pin_strict),
		cmocka_unit_test(g4_fork_after_fast_pin_no_fork_copy_pinned),
		cmocka_unit_test(g4_fast_rw_pin_of_cow_page_strict),
		cmocka_unit_test(g4_fast_pin_maps_what_was_mapped),
		/* G5 */
		cmocka_unit_test(g5_pin_accounting_strict),
		cmocka_unit_test(g5_pin_accounting_off),
		cmocka_unit_test(g5_pin_accounting_legacy),
		cmocka_unit_test(g5_pin_accounting_legacy_implemented),
		cmocka_unit_test(g5_counts_and_lifetime),
		cmocka_unit_test(g5_page_layer_unpin_of_unpinned),
		cmocka_unit_test(g5_invariants_at_every_step),
	};
	return cmocka_run_group_tests_name("guarantee", tests, NULL, NULL);
}
