/* SPDX-License-Identifier: MIT */
/*
 * G4 races, made deterministic: the explore build turns the engine's
 * preemption points into calls of a hook, and each test runs another path
 * at exactly the point of GUP-fast (or fork) where the historical race bit.
 * Each runs in strict (the race is closed) and with its fix switch off (the
 * failure is detected). The explorer finds the same interleavings by search;
 * these pin them down one at a time.
 */
#include "helpers.h"

#include "base/preempt.h"
#include "gup/gup.h"

struct inject {
	enum pm_point at;
	bool armed;
	void (*action)(struct inject *);
	struct pinmm *eng;
	struct pinmm_mm *mm;
	uint64_t a, b;
	uint64_t target_pfn;
	int result;
	unsigned long fast_taken;
	struct pinmm_page *fast_pages[1];
};

static void hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct inject *in = arg;

	(void)obj;
	(void)val;
	if (!in->armed || pt != in->at)
		return;
	in->armed = false;	/* once; the action's own points pass through */
	in->action(in);
}

static struct pinmm *small_engine(struct pinmm_policy p)
{
	struct pinmm_config cfg;
	struct pinmm *eng;

	pinmm_config_default(&cfg);
	cfg.normal_frames = 512;
	cfg.movable_frames = 512;
	cfg.policy = p;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	return eng;
}

/* ------------------------------------------------ gup_fast_recheck --- */

/*
 * Between GUP-fast's read of the entry and its reference, the page is
 * unmapped, freed and reused for another mapping b. Without the recheck
 * GUP-fast pins b's page, and the device writes into b.
 */
static void unmap_and_reuse(struct inject *in)
{
	uint64_t b;

	in->result = pinmm_munmap(in->mm, in->a, PG);
	/* far from a: the slow path must find nothing at a */
	assert_int_equal(pinmm_mmap(in->mm, in->a - (1ull << 30), 400 * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED_NOREPLACE, &b), 0);
	in->b = 0;
	for (unsigned i = 0; i < 400; i++) {
		struct pinmm_mapping m;

		assert_int_equal(pinmm_store_fill(in->mm, b + i * PG, 0x33, 1), 0);
		assert_int_equal(pinmm_follow_page(in->mm, b + i * PG, &m), 0);
		if (m.pfn == in->target_pfn) {
			in->b = b + i * PG;
			break;
		}
	}
	assert_true(in->b != 0);	/* the freed frame was reused */
}

static void recheck_case(struct pinmm_policy p, bool expect_detected)
{
	struct pinmm *eng = small_engine(p);
	struct pinmm_mm *mm;
	struct inject in = { .at = PM_PT_GUP_FAST_WALKED, .action = unmap_and_reuse };
	struct pinmm_mapping m;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin = { 0 };
	uint8_t byte;

	assert_int_equal(pinmm_mm_create(eng, &mm), 0);
	/* a second page keeps the PTE table (and the PMD entry) in place, so
	 * only the PTE recheck can see the change */
	assert_int_equal(pinmm_mmap(mm, 0, 2 * PG, PROT_RW, PINMM_MAP_PRIVATE, &in.a), 0);
	assert_int_equal(pinmm_store_fill(mm, in.a, 0x11, 2 * PG), 0);
	assert_int_equal(pinmm_follow_page(mm, in.a, &m), 0);
	in.target_pfn = m.pfn;
	in.eng = eng;
	in.mm = mm;
	in.armed = true;
	pm_preempt_set_hook(hook, &in);
	int r = pinmm_pin(mm, &pin, in.a, 1, PINMM_FOLL_WRITE, true, pages);
	pm_preempt_set_hook(NULL, NULL);
	assert_false(in.armed);		/* the race was staged */
	assert_int_equal(in.result, 0);

	if (!expect_detected) {
		/* the recheck saw the cleared entry; the slow path found no VMA */
		assert_int_equal(r, -EFAULT);
	} else {
		/* the pin landed on b's page: the device write corrupts b */
		assert_int_equal(r, 0);
		assert_int_equal(pinmm_page_pfn(pages[0]), in.target_pfn);
		assert_int_equal(pinmm_dev_fill(&pin, 0, 0, 0xee, 1), 0);
		assert_int_equal(pinmm_load(mm, in.b, &byte, 1), 0);
		assert_int_equal(byte, 0xee);	/* detected: another mapping's data */
		assert_int_equal(pinmm_unpin(&pin), 0);
	}
	pinmm_mm_exit(mm);
	assert_int_equal(pinmm_check_invariants(eng, NULL), 0);
	assert_int_equal(pinmm_destroy(eng), 0);
}

static void recheck_strict(void **s) { (void)s; recheck_case(PINMM_POLICY_STRICT, false); }
static void recheck_off_detected(void **s)
{
	(void)s;
	recheck_case(policy_strict_without(PINMM_SW_GUP_FAST_RECHECK), true);
}

/* ------------------------------------------------ fork_gup_fast_seq --- */

/*
 * fork has decided "not pinned: share it" and not yet write-protected the
 * parent's entry when GUP-fast pins through that still-writable entry.
 * Without the sequence count the pin lands on a page fork then shares, and
 * the parent's next write copies away from it.
 */
static void pin_during_fork(struct inject *in)
{
	/* GUP-fast only: the slow path would wait for fork's mmap_lock */
	in->fast_taken = gup_fast(in->mm, in->a, 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE,
				  in->fast_pages);
}

static void fork_seq_case(struct pinmm_policy p, bool expect_detected)
{
	struct pinmm *eng = small_engine(p);
	struct pinmm_mm *mm, *child;
	struct inject in = { .at = PM_PT_FORK_CHECKED, .action = pin_during_fork };
	uint8_t byte;

	assert_int_equal(pinmm_mm_create(eng, &mm), 0);
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &in.a), 0);
	assert_int_equal(pinmm_store_fill(mm, in.a, 0x11, 1), 0);
	in.mm = mm;
	in.armed = true;
	pm_preempt_set_hook(hook, &in);
	assert_int_equal(pinmm_fork(mm, &child), 0);
	pm_preempt_set_hook(NULL, NULL);
	assert_false(in.armed);

	if (!expect_detected) {
		/* GUP-fast saw fork's odd sequence and backed off */
		assert_int_equal(in.fast_taken, 0);
	} else {
		assert_int_equal(in.fast_taken, 1);
		struct pinmm_page *pinned = in.fast_pages[0];
		/* the parent writes; the device reads through its pin */
		assert_int_equal(pinmm_store_fill(mm, in.a, 0x22, 1), 0);
		byte = *(volatile uint8_t *)pinmm_page_address(pinned);
		assert_int_equal(byte, 0x11);	/* detected: the write missed the pin */
		assert_int_equal(pinmm_load(child, in.a, &byte, 1), 0);
		assert_int_equal(byte, 0x11);
		gup_put_folio(eng, pinned, 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE);
	}
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(pinmm_check_invariants(eng, NULL), 0);
	assert_int_equal(pinmm_destroy(eng), 0);
}

static void fork_seq_strict(void **s) { (void)s; fork_seq_case(PINMM_POLICY_STRICT, false); }
static void fork_seq_off_detected(void **s)
{
	(void)s;
	fork_seq_case(policy_strict_without(PINMM_SW_FORK_GUP_FAST_SEQ), true);
}

/* With the sequence count, a pin taken after the race window is coherent. */
static void fork_then_pin_fast_coherent(void **s)
{
	(void)s;
	struct pinmm *eng = small_engine(PINMM_POLICY_STRICT);
	struct pinmm_mm *mm, *child;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin = { 0 };
	uint64_t a;

	assert_int_equal(pinmm_mm_create(eng, &mm), 0);
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &a), 0);
	assert_int_equal(pinmm_store_fill(mm, a, 0x11, 1), 0);
	assert_int_equal(pinmm_fork(mm, &child), 0);
	assert_int_equal(pinmm_pin(mm, &pin, a, 1, PINMM_FOLL_WRITE, true, pages), 0);
	assert_int_equal(pinmm_check_coherent(&pin, mm, a, NULL), PINMM_COHERENT);
	assert_int_equal(pinmm_unpin(&pin), 0);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(pinmm_destroy(eng), 0);
}

/* ------------------------------------ a folio split between read and grab */

/*
 * GUP-fast read the PTEs of a run of one 64 KiB mTHP and counted on its
 * folio; before the grab the folio is split into 16 small ones. The split
 * maps every page again by the same entries, so rechecking the entries
 * cannot tell: the references would go to the old head alone, and each
 * small folio would be pinned without a count. GUP-fast must see that the
 * pages no longer belong to the folio it grabbed (Linux rechecks
 * page_folio() after try_grab_folio) and leave the run to the slow path.
 */
static void split_mthp(struct inject *in)
{
	in->result = pinmm_split_folio(in->mm, in->a);
}

static void fast_pin_vs_folio_split(void **s)
{
	(void)s;
	struct pinmm *eng = small_engine(PINMM_POLICY_STRICT);
	struct inject in = { .at = PM_PT_GUP_FAST_WALKED, .armed = true, .action = split_mthp,
			     .eng = eng, .result = 1 };
	struct pinmm_page *pages[16];

	assert_int_equal(pinmm_thp_set_enabled(eng, 64 * 1024, PINMM_THP_MADVISE), 0);
	assert_int_equal(pinmm_mm_create(eng, &in.mm), 0);
	assert_int_equal(pinmm_mmap(in.mm, 0, 64 * 1024, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M,
				    &in.a), 0);
	assert_int_equal(pinmm_store_fill(in.mm, in.a, 0x5e, 64 * 1024), 0);
	assert_int_equal(finfo_at(in.mm, in.a).order, 4);
	pm_preempt_set_hook(hook, &in);
	long n = pinmm_pin_user_pages_fast(in.mm, in.a, 16, PINMM_FOLL_WRITE, pages);
	pm_preempt_set_hook(NULL, NULL);
	assert_int_equal(in.result, 0);		/* the split happened */
	assert_int_equal(n, 16);
	for (unsigned k = 0; k < 16; k++) {
		struct pinmm_folio_info f = finfo(pages[k]);
		assert_int_equal(f.order, 0);
		assert_int_equal(f.pincount, 1);	/* each page its own count */
		assert_int_equal(f.refcount, 2);	/* its mapping's + the pin */
	}
	assert_invariants(eng);
	pinmm_unpin_user_pages(pages, 16, false);
	assert_invariants(eng);
	pinmm_mm_exit(in.mm);
	assert_int_equal(pinmm_destroy(eng), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recheck_strict),
		cmocka_unit_test(recheck_off_detected),
		cmocka_unit_test(fork_seq_strict),
		cmocka_unit_test(fork_seq_off_detected),
		cmocka_unit_test(fork_then_pin_fast_coherent),
		cmocka_unit_test(fast_pin_vs_folio_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
