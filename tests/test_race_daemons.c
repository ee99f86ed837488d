/* SPDX-License-Identifier: MIT */
/*
 * The clear-then-check races of the daemons, staged deterministically with
 * the explore build's preemption-point hook: a GUP-fast pin lands exactly
 * inside the daemon's window. In strict it finds the entry cleared (and the
 * daemon proceeds on an unpinned page); with the switch off it pins a page
 * the daemon then takes away, and the failure is detected.
 */
#include "helpers.h"

#include <pthread.h>
#include <semaphore.h>

#include "base/preempt.h"
#include "gup/gup.h"

struct stage {
	enum pm_point at;
	int skip;		/* events to let pass first */
	bool zero_only;		/* PTE writes: only clears count */
	struct pinmm_mm *mm;
	uint64_t addr;
	unsigned long taken;
	bool fired;
	struct pinmm_page *pages[1];
};

static void hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct stage *st = arg;

	(void)obj;
	if (st->fired || pt != st->at || (st->zero_only && val != 0))
		return;
	if (st->skip-- > 0)
		return;
	st->fired = true;
	/* GUP-fast only: the slow path would need the lock the daemon holds */
	st->taken = gup_fast(st->mm, st->addr, 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE,
			     st->pages);
}

/* Two identical mergeable pages; the second gets a GUP-fast pin in the
 * window of its write_protect_page(). */
static void ksm_race_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct stage st = { .mm = mm };

	fill(mm, a, 0x77, 2 * PG);
	assert_int_equal(pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_MERGEABLE), 0);
	/* the second pass merges: the page met second (a + PG) becomes the
	 * KSM page, then the one met first (a, in the unstable tree) is
	 * write-protected and merged into it: stage the race there */
	if (detected) {
		st.at = PM_PT_KSM_CHECKED;
	} else {
		st.at = PM_PT_PTE_WRITE;
		st.zero_only = true;
	}
	st.skip = 1;
	st.addr = a;
	uint64_t victim_pfn = pfn_at(mm, a);

	pm_preempt_set_hook(hook, &st);
	long merged = pinmm_ksm_scan(eng, 2);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);

	if (!detected) {
		/* the pin found the entry cleared; KSM merged an unpinned page */
		assert_int_equal(st.taken, 0);
		assert_int_equal(merged, 2);
		assert_int_equal(pfn_at(mm, a), pfn_at(mm, a + PG));
	} else {
		/* the pin landed before the write-protect; KSM then replaced
		 * the page under it */
		assert_int_equal(st.taken, 1);
		assert_int_equal(pinmm_page_pfn(st.pages[0]), victim_pfn);
		assert_int_equal(merged, 2);
		assert_int_not_equal(pfn_at(mm, st.addr), victim_pfn);
		/* the device writes, the CPU does not see it */
		((volatile uint8_t *)pinmm_page_address(st.pages[0]))[9] = 0xab;
		assert_int_equal(load8(mm, st.addr + 9), 0x77);
		gup_put_folio(eng, st.pages[0], 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE);
	}
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void ksm_race_strict(void **s) { (void)s; ksm_race_case(policy_strict(), false); }
static void ksm_race_off_detected(void **s)
{
	(void)s;
	ksm_race_case(policy_strict_without(PINMM_SW_KSM_CLEAR_THEN_CHECK), true);
}

/* --------------------------------------- khugepaged_clear_then_check --- */

#define HP (2ul << 20)

static uint64_t collapsible(struct pinmm_mm *mm)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, HP, PROT_RW, PINMM_MAP_PRIVATE |
				    PINMM_MAP_NOHUGEPAGE | PINMM_MAP_ALIGN_2M, &a), 0);
	fill(mm, a, 0x5a, HP);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_HUGEPAGE), 0);
	return a;
}

static void collapse_race_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = collapsible(mm);
	struct stage st = { .mm = mm, .addr = a + 300 * PG };
	uint64_t victim = pfn_at(mm, st.addr);

	if (detected) {
		st.at = PM_PT_COLLAPSE_CHECKED;	/* between check and clear */
	} else {
		st.at = PM_PT_PMD_WRITE;	/* right after the PMD clear */
		st.zero_only = true;
	}
	pm_preempt_set_hook(hook, &st);
	int r = pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(st.fired);
	assert_int_equal(r, 0);
	assert_true(follow(mm, a).huge);
	if (!detected) {
		assert_int_equal(st.taken, 0);	/* GUP-fast found no PMD */
	} else {
		assert_int_equal(st.taken, 1);
		assert_int_equal(pinmm_page_pfn(st.pages[0]), victim);
		((volatile uint8_t *)pinmm_page_address(st.pages[0]))[1] = 0xcd;
		assert_int_equal(load8(mm, st.addr + 1), 0x5a);	/* detected */
		gup_put_folio(eng, st.pages[0], 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE);
	}
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void collapse_race_strict(void **s) { (void)s; collapse_race_case(policy_strict(), false); }
static void collapse_race_off_detected(void **s)
{
	(void)s;
	collapse_race_case(policy_strict_without(PINMM_SW_KHUGEPAGED_CLEAR_THEN_CHECK), true);
}

/* ----------------------------------------------- gup_fast_pmd_recheck --- */

/*
 * Two threads, stepped by semaphores: GUP-fast (G) reads the PMD and the
 * PTE; collapse (K) clears the PMD, checks the counts (still clean) and
 * pauses before it lets go of the small pages; G takes its reference and
 * rechecks — the PTE is unchanged, only the PMD tells.
 */
enum role { NONE, GUP, COLLAPSE };
static __thread enum role my_role;

struct duo {
	sem_t walked, checked, done;
	bool g_paused, k_paused;
	struct pinmm_mm *mm;
	uint64_t addr;
	unsigned long taken;
	struct pinmm_page *pages[1];
};

static void duo_hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct duo *d = arg;

	(void)obj;
	if (my_role == GUP && pt == PM_PT_GUP_FAST_WALKED && !d->g_paused) {
		d->g_paused = true;
		sem_post(&d->walked);
		sem_wait(&d->checked);	/* K has checked the counts */
	} else if (my_role == COLLAPSE && pt == PM_PT_PTE_WRITE && val == 0 && !d->k_paused) {
		d->k_paused = true;
		sem_post(&d->checked);
		sem_wait(&d->done);	/* G has taken and rechecked */
	}
}

static void *gup_thread(void *arg)
{
	struct duo *d = arg;

	my_role = GUP;
	d->taken = gup_fast(d->mm, d->addr, 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE, d->pages);
	sem_post(&d->done);
	return NULL;
}

static void pmd_recheck_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = collapsible(mm);
	struct duo d = { .mm = mm, .addr = a + 300 * PG };
	pthread_t g;
	uint64_t victim = pfn_at(mm, d.addr);

	sem_init(&d.walked, 0, 0);
	sem_init(&d.checked, 0, 0);
	sem_init(&d.done, 0, 0);
	pm_preempt_set_hook(duo_hook, &d);
	assert_int_equal(pthread_create(&g, NULL, gup_thread, &d), 0);
	sem_wait(&d.walked);
	my_role = COLLAPSE;
	int r = pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE);
	my_role = NONE;
	pthread_join(g, NULL);
	pm_preempt_set_hook(NULL, NULL);
	assert_true(d.g_paused && d.k_paused);
	assert_int_equal(r, 0);
	assert_true(follow(mm, a).huge);
	if (!detected) {
		assert_int_equal(d.taken, 0);	/* the PMD recheck saw the clear */
	} else {
		assert_int_equal(d.taken, 1);
		assert_int_equal(pinmm_page_pfn(d.pages[0]), victim);
		((volatile uint8_t *)pinmm_page_address(d.pages[0]))[2] = 0xce;
		assert_int_equal(load8(mm, d.addr + 2), 0x5a);	/* detected */
		gup_put_folio(eng, d.pages[0], 1, PINMM_FOLL_PIN | PINMM_FOLL_WRITE);
	}
	sem_destroy(&d.walked);
	sem_destroy(&d.checked);
	sem_destroy(&d.done);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pmd_recheck_strict(void **s) { (void)s; pmd_recheck_case(policy_strict(), false); }
static void pmd_recheck_off_detected(void **s)
{
	(void)s;
	pmd_recheck_case(policy_strict_without(PINMM_SW_GUP_FAST_PMD_RECHECK), true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ksm_race_strict),
		cmocka_unit_test(ksm_race_off_detected),
		cmocka_unit_test(collapse_race_strict),
		cmocka_unit_test(collapse_race_off_detected),
		cmocka_unit_test(pmd_recheck_strict),
		cmocka_unit_test(pmd_recheck_off_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
