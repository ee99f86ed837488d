/* SPDX-License-Identifier: MIT */
/*
 * The deferred split of large folios (Linux's deferred_split_folio(),
 * 3.16 for THPs, and its shrinker): a large anon folio whose pages are
 * partly unmapped (MADV_DONTNEED, munmap, the COW of one of its pages) is
 * queued, not split, and keeps every page; a shrinker pass (reclaim runs
 * one first) splits it, freeing the pages nobody maps. A folio some page
 * of which is still mapped by another process is not partly mapped; one
 * that is held (a pin) stays queued and whole; one freed leaves the
 * queue.
 */
#include "helpers.h"
#include "engine.h"

#define K64 (64 * 1024ul)

static struct pinmm *make_mthp_engine(void)
{
	struct pinmm *eng = make_engine(policy_strict());

	assert_int_equal(pinmm_thp_set_enabled(eng, PINMM_PMD_SIZE, PINMM_THP_NEVER), 0);
	assert_int_equal(pinmm_thp_set_enabled(eng, K64, PINMM_THP_MADVISE), 0);
	return eng;
}

static uint64_t map_mthp(struct pinmm_mm *mm, uint64_t len, uint8_t v)
{
	uint64_t a = map_anon(mm, len, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M);

	fill(mm, a, v, len);
	return a;
}

static size_t queued(struct pinmm *eng)
{
	return eng->split_queue.len;
}

/* DONTNEED of part: queued, every page kept; the shrinker splits it and
 * frees the unmapped pages. */
static void dontneed_part_splits_later(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_mthp(mm, K64, 0x61);

	assert_int_equal(pinmm_madvise(mm, a + 4 * PG, 12 * PG, PINMM_MADV_DONTNEED), 0);
	assert_int_equal(follow(mm, a).order, 4);
	assert_int_equal(frames_used(eng), 16);	/* nothing freed yet */
	assert_int_equal(queued(eng), 1);
	assert_invariants(eng);
	assert_int_equal(pinmm_reclaim(eng, 0), 0);
	assert_int_equal(queued(eng), 0);
	assert_int_equal(follow(mm, a).order, 0);
	assert_int_equal(follow(mm, a + 3 * PG).order, 0);
	assert_int_equal(frames_used(eng), 4);
	assert_bytes(mm, a, 0x61, 4 * PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A PMD THP munmapped in part: its PMD is split, the folio queued and
 * kept whole (order 9, 512 frames) until the shrinker splits it. */
static void thp_munmap_part_splits_later(void **s)
{
	(void)s;
	struct pinmm *eng = make_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M);

	fill(mm, a, 0x66, PINMM_PMD_SIZE);
	assert_true(follow(mm, a).huge);
	assert_int_equal(pinmm_munmap(mm, a + PINMM_PMD_SIZE / 2, PINMM_PMD_SIZE / 2), 0);
	assert_false(follow(mm, a).huge);
	assert_int_equal(follow(mm, a).order, 9);
	assert_int_equal(frames_used(eng), 512);
	assert_int_equal(queued(eng), 1);
	pinmm_reclaim(eng, 0);
	assert_int_equal(queued(eng), 0);
	assert_int_equal(follow(mm, a + 5 * PG).order, 0);
	assert_int_equal(frames_used(eng), 256);
	assert_bytes(mm, a, 0x66, PINMM_PMD_SIZE / 2);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A pinned folio cannot be split: it stays queued and whole until the
 * pin goes. */
static void pinned_stays_queued(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_mthp(mm, K64, 0x62);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	assert_int_equal(pinmm_munmap(mm, a + 8 * PG, 8 * PG), 0);
	zero_pin(&pin);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	pinmm_reclaim(eng, 0);
	assert_int_equal(queued(eng), 1);
	assert_int_equal(follow(mm, a + PG).order, 4);
	assert_int_equal(frames_used(eng), 16);
	unpin_ok(&pin);
	pinmm_reclaim(eng, 0);
	assert_int_equal(queued(eng), 0);
	assert_int_equal(frames_used(eng), 8);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The child's COW of one page leaves that page mapped by the parent: not
 * partly mapped, not queued; once the parent unmaps it too, it is. A
 * folio freed whole leaves the queue. */
static void cow_and_free(void **s)
{
	(void)s;
	struct pinmm *eng = make_mthp_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_mthp(mm, K64, 0x63);
	struct pinmm_mm *child = fork_mm(mm);

	store8(child, a + 2 * PG, 0x64);
	assert_int_equal(queued(eng), 0);
	store8(mm, a + 2 * PG, 0x65);	/* the parent's copy: page 2 unmapped */
	assert_int_equal(queued(eng), 1);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	assert_int_equal(pinmm_munmap(mm, a, K64), 0);
	assert_int_equal(queued(eng), 0);	/* freed, and off the queue */
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dontneed_part_splits_later),
		cmocka_unit_test(thp_munmap_part_splits_later),
		cmocka_unit_test(pinned_stays_queued),
		cmocka_unit_test(cow_and_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
