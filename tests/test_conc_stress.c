/* SPDX-License-Identifier: MIT */
/*
 * tests/test_conc_stress.c - real threads against one engine.
 *
 * Pinner threads pin (mostly GUP-fast), move data through the device and the
 * CPU and unpin, in a loop, while a disturber thread forks (and exits the
 * child), munmaps + re-mmaps (MAP_FIXED), DONTNEEDs, mprotects and mremaps
 * parts of the same mm.
 *
 * The mm is split so that every pinner owns a "stable" page that no action
 * of list E (other than fork, under which G1 holds for the parent) ever
 * touches: while its R/W pin is held, a device write must be seen by the next
 * load and a store by the next device read, every time. Pins of the "churn"
 * region may fail with -EFAULT (racing munmap/mremap) and their pages may be
 * unmapped under them; only what is always true is checked there.
 *
 * Worker threads never call cmocka: they record failures, and the test's
 * thread asserts after joining them.
 *
 * Length: rounds per thread and a wall-clock budget, whichever ends first.
 * PINMM_STRESS_ROUNDS / PINMM_STRESS_SECONDS override them; sanitizer builds
 * use less.
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* TSan costs 5-15x and serialises a lot, ASan about 2x */
#define DEFAULT_ROUNDS (SAN_THREAD ? 2000ul : SAN_ADDRESS ? 8000ul : 20000ul)
#define DEFAULT_SECONDS (SAN_THREAD ? 8.0 : 4.0)

static unsigned long cfg_rounds(void) { return stress_rounds(DEFAULT_ROUNDS); }
static double cfg_seconds(void) { return stress_seconds(DEFAULT_SECONDS); }

/* ===================================================== the main stress === */

enum { NPINNERS = 3, CHURN_PAGES = 64, STABLE_PAGES_EACH = 2 };

struct shared {
	struct pinmm *eng;
	struct pinmm_mm *mm;
	uint64_t stable;	/* NPINNERS * STABLE_PAGES_EACH pages, never E-touched */
	uint64_t churn;		/* CHURN_PAGES pages, disturbed */
	uint64_t scratch;	/* CHURN_PAGES free pages for mremap round trips */
	unsigned long rounds;
	double deadline;
	atomic_int pinners_left;
	atomic_bool stop;
	atomic_ulong disturbed;	/* operations the disturber finished */
	struct failures fail;
	/* counters for the report */
	atomic_ulong pins, churn_pins, churn_efault, forks, munmaps, dontneeds,
		mremaps, mprotects, coherent_checks;
	bool do_fork, do_munmap, do_dontneed, do_mremap, do_mprotect, churn_pinning;
};

struct pinner_arg {
	struct shared *sh;
	unsigned idx;
};

static void *pinner(void *p)
{
	struct pinner_arg *arg = p;
	struct shared *sh = arg->sh;
	struct pinmm_mm *mm = sh->mm;
	uint64_t seed = 0x9E3779B97F4A7C15ull * (arg->idx + 1);
	uint64_t mine = sh->stable + (uint64_t)arg->idx * STABLE_PAGES_EACH * PG;
	struct pinmm_page *pages[STABLE_PAGES_EACH], *cpages[3];
	struct pinmm_pin pin, cpin;

	memset(&pin, 0, sizeof(pin));
	memset(&cpin, 0, sizeof(cpin));
	for (unsigned long r = 0; !atomic_load(&sh->stop); r++) {
		/* the rounds or the time are up — but not before the disturber
		 * has done something to race with (a fork under TSan is slow) */
		bool raced = atomic_load(&sh->disturbed) > 0;
		if ((r >= sh->rounds || now_s() > sh->deadline) &&
		    (raced || now_s() > sh->deadline + 60))
			break;
		uint64_t rnd = xs(&seed);
		unsigned flags = PINMM_FOLL_WRITE |
				 ((rnd & 3) == 0 ? PINMM_FOLL_LONGTERM : 0);
		bool fast = (rnd & 4) != 0 || (rnd & 8) != 0;	/* 3/4 fast */
		unsigned npg = 1 + (unsigned)((rnd >> 4) & 1);

		/* ---- the stable page(s): must always work and agree ---- */
		int e = pinmm_pin(mm, &pin, mine, npg, flags, fast, pages);
		if (e != 0) {
			record(&sh->fail, "pinner %u round %lu: pin of stable page "
			       "failed: %d", arg->idx, r, e);
			break;
		}
		atomic_fetch_add(&sh->pins, 1);
		for (unsigned k = 0; k < 4; k++) {
			unsigned pg = (unsigned)(xs(&seed) % npg);
			size_t off = (size_t)(xs(&seed) % (PG - 1));
			uint8_t b = (uint8_t)xs(&seed), got = 0;

			if (pinmm_dev_write(&pin, pg, off, &b, 1) != 0)
				record(&sh->fail, "pinner %u: dev_write failed",
				       arg->idx);
			e = pinmm_load(mm, mine + pg * PG + off, &got, 1);
			if (e != 0 || got != b)
				record(&sh->fail, "pinner %u round %lu: device "
				       "wrote 0x%02x, CPU load got 0x%02x (err %d)",
				       arg->idx, r, b, got, e);
			b = (uint8_t)(b + 0x5b);
			e = pinmm_store(mm, mine + pg * PG + off + 1, &b, 1);
			got = 0;
			if (e == 0)
				e = pinmm_dev_read(&pin, pg, off + 1, &got, 1);
			if (e != 0 || got != b)
				record(&sh->fail, "pinner %u round %lu: CPU stored "
				       "0x%02x, device read 0x%02x (err %d)",
				       arg->idx, r, b, got, e);
		}
		if (!pinmm_check_mapped(&pin, mm, mine))
			record(&sh->fail, "pinner %u round %lu: pin not mapped",
			       arg->idx, r);
		if ((r & 7) == 0) {
			unsigned long bad = 0;
			enum pinmm_coherence c =
				pinmm_check_coherent(&pin, mm, mine, &bad);
			atomic_fetch_add(&sh->coherent_checks, 1);
			if (c != PINMM_COHERENT)
				record(&sh->fail, "pinner %u round %lu: %s at page %lu",
				       arg->idx, r, pinmm_coherence_str(c), bad);
		}
		if (pinmm_unpin(&pin) != 0)
			record(&sh->fail, "pinner %u: unpin of stable pin failed",
			       arg->idx);

		/* ---- the churn region: may fail, must not corrupt ---- */
		if (!sh->churn_pinning)
			continue;
		unsigned n = 1 + (unsigned)(xs(&seed) % 3);
		unsigned first = (unsigned)(xs(&seed) % (CHURN_PAGES - n + 1));
		uint64_t ca = sh->churn + (uint64_t)first * PG;
		bool w = (xs(&seed) & 1) != 0;
		e = pinmm_pin(mm, &cpin, ca, n, w ? PINMM_FOLL_WRITE : 0,
			      (xs(&seed) & 3) != 0, cpages);
		if (e == -EFAULT) {
			atomic_fetch_add(&sh->churn_efault, 1);
		} else if (e != 0) {
			record(&sh->fail, "pinner %u: churn pin: unexpected %d",
			       arg->idx, e);
		} else {
			atomic_fetch_add(&sh->churn_pins, 1);
			/* the device's own view is always consistent */
			if (w) {
				uint8_t b = (uint8_t)xs(&seed), got = 0;
				size_t off = (size_t)(xs(&seed) % PG);
				if (pinmm_dev_write(&cpin, n - 1, off, &b, 1) != 0 ||
				    pinmm_dev_read(&cpin, n - 1, off, &got, 1) != 0 ||
				    got != b)
					record(&sh->fail, "pinner %u: churn dev "
					       "write/read disagree", arg->idx);
			} else {
				uint8_t got;
				if (pinmm_dev_read(&cpin, 0, 0, &got, 1) != 0)
					record(&sh->fail, "pinner %u: churn dev_read "
					       "failed", arg->idx);
			}
			/* and the CPU may touch the range meanwhile */
			uint8_t v = 0;
			e = pinmm_load(mm, ca, &v, 1);
			if (e != 0 && e != -EFAULT && e != -EACCES)
				record(&sh->fail, "pinner %u: churn load: %d",
				       arg->idx, e);
			if (pinmm_unpin(&cpin) != 0)
				record(&sh->fail, "pinner %u: churn unpin failed",
				       arg->idx);
		}
		uint8_t v = (uint8_t)r;
		e = pinmm_store(mm, ca + (xs(&seed) % PG), &v, 1);
		if (e != 0 && e != -EFAULT && e != -EACCES)
			record(&sh->fail, "pinner %u: churn store: %d", arg->idx, e);
	}
	if (pinmm_pin_held(&pin) || pinmm_pin_held(&cpin))
		record(&sh->fail, "pinner %u exits with a pin held", arg->idx);
	atomic_fetch_sub(&sh->pinners_left, 1);
	return NULL;
}

static void *disturber(void *p)
{
	struct shared *sh = p;
	struct pinmm_mm *mm = sh->mm;
	uint64_t seed = 0xD1B54A32D192ED03ull, out;
	unsigned ops[5], nops = 0;

	if (sh->do_fork)
		ops[nops++] = 0;
	if (sh->do_munmap)
		ops[nops++] = 1;
	if (sh->do_dontneed)
		ops[nops++] = 2;
	if (sh->do_mremap)
		ops[nops++] = 3;
	if (sh->do_mprotect)
		ops[nops++] = 4;
	if (nops == 0)
		return NULL;
	while (atomic_load(&sh->pinners_left) > 0) {
		uint64_t rnd = xs(&seed);
		unsigned n = 1 + (unsigned)((rnd >> 8) % 8);
		unsigned first = (unsigned)((rnd >> 16) % (CHURN_PAGES - n + 1));
		uint64_t a = sh->churn + (uint64_t)first * PG;
		uint64_t len = (uint64_t)n * PG;
		int e;

		atomic_fetch_add(&sh->disturbed, 1);	/* (counted as started) */
		switch (ops[(rnd >> 40) % nops]) {
		case 0:
			{
				struct pinmm_mm *child = NULL;
				e = pinmm_fork(mm, &child);
				if (e != 0) {
					record(&sh->fail, "fork: %d", e);
					break;
				}
				atomic_fetch_add(&sh->forks, 1);
				/* the child sees its own copies of the stable
				 * pages; its writes reach nothing of the parent */
				uint8_t v = 0xC1;
				for (unsigned i = 0; i < NPINNERS; i++) {
					uint64_t s = sh->stable +
						     (uint64_t)i * STABLE_PAGES_EACH * PG;
					int ce = pinmm_store(child, s + PG - 1, &v, 1);
					if (ce != 0)
						record(&sh->fail, "child store to "
						       "stable page failed: %d", ce);
				}
				(void)pinmm_store_fill(child, a, 0xC2, (size_t)len);
				pinmm_mm_exit(child);
			}
			break;
		case 1:
			e = pinmm_munmap(mm, a, len);
			if (e != 0)
				record(&sh->fail, "munmap: %d", e);
			e = pinmm_mmap(mm, a, len, PROT_RW,
				       PINMM_MAP_PRIVATE | PINMM_MAP_FIXED |
				       ((rnd & 1) ? PINMM_MAP_POPULATE : 0), &out);
			if (e != 0 || out != a)
				record(&sh->fail, "mmap FIXED back: %d", e);
			atomic_fetch_add(&sh->munmaps, 1);
			break;
		case 2:
			e = pinmm_madvise(mm, a, len, PINMM_MADV_DONTNEED);
			if (e != 0)
				record(&sh->fail, "madvise DONTNEED: %d", e);
			atomic_fetch_add(&sh->dontneeds, 1);
			break;
		case 3:
			e = pinmm_mremap(mm, a, len, len,
					 PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
					 sh->scratch, &out);
			if (e == -EFAULT && n > 1) {
				/* the range spans several VMAs (munmap/mmap and
				 * mprotect split it): Linux refuses that with
				 * EFAULT; move its first page alone instead */
				len = PG;
				e = pinmm_mremap(mm, a, len, len,
						 PINMM_MREMAP_MAYMOVE |
						 PINMM_MREMAP_FIXED,
						 sh->scratch, &out);
			}
			if (e != 0 || out != sh->scratch) {
				record(&sh->fail, "mremap out: %d", e);
				break;
			}
			e = pinmm_mremap(mm, sh->scratch, len, len,
					 PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
					 a, &out);
			if (e != 0 || out != a)
				record(&sh->fail, "mremap back: %d", e);
			atomic_fetch_add(&sh->mremaps, 1);
			break;
		case 4:
			e = pinmm_mprotect(mm, a, len, PROT_R);
			if (e == 0)
				e = pinmm_mprotect(mm, a, len, PROT_RW);
			if (e != 0)
				record(&sh->fail, "mprotect: %d", e);
			atomic_fetch_add(&sh->mprotects, 1);
			break;
		}
	}
	return NULL;
}

static void run_stress(struct shared *sh)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	pthread_t th[NPINNERS], dist;
	struct pinner_arg args[NPINNERS];

	sh->eng = eng;
	sh->mm = mm;
	sh->rounds = cfg_rounds();
	sh->deadline = now_s() + cfg_seconds();
	init_failures(&sh->fail);
	atomic_init(&sh->pinners_left, NPINNERS);
	atomic_init(&sh->stop, false);

	/* three separate mappings; scratch is left free for mremap */
	sh->stable = map_rw_populated(mm, NPINNERS * STABLE_PAGES_EACH);
	sh->churn = map_rw(mm, CHURN_PAGES);
	sh->scratch = map_rw(mm, CHURN_PAGES);
	assert_int_equal(pinmm_munmap(mm, sh->scratch, CHURN_PAGES * PG), 0);
	fill(mm, sh->churn, 0x77, CHURN_PAGES * PG);

	for (unsigned i = 0; i < NPINNERS; i++) {
		args[i].sh = sh;
		args[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, pinner, &args[i]), 0);
	}
	assert_int_equal(pthread_create(&dist, NULL, disturber, sh), 0);
	for (unsigned i = 0; i < NPINNERS; i++)
		pthread_join(th[i], NULL);
	pthread_join(dist, NULL);

	print_message("    pins %lu, churn pins %lu (EFAULT %lu), coherence checks %lu, "
		      "forks %lu, munmaps %lu, dontneeds %lu, mremaps %lu, "
		      "mprotects %lu\n",
		      atomic_load(&sh->pins), atomic_load(&sh->churn_pins),
		      atomic_load(&sh->churn_efault),
		      atomic_load(&sh->coherent_checks), atomic_load(&sh->forks),
		      atomic_load(&sh->munmaps), atomic_load(&sh->dontneeds),
		      atomic_load(&sh->mremaps), atomic_load(&sh->mprotects));
	assert_no_failures(&sh->fail);
	/* quiescent: the invariants hold with the mm still alive */
	assert_invariants(eng);
	/* the stable pages kept the CPU's last view: the data the last pins
	 * agreed on is still readable */
	uint8_t buf[16];
	assert_int_equal(pinmm_load(mm, sh->stable, buf, sizeof(buf)), 0);
	assert_true(atomic_load(&sh->pins) > 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static struct shared *new_shared(void)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	assert_non_null(sh);
	return sh;
}

static void stress_pin_vs_everything(void **state)
{
	(void)state;
	struct shared *sh = new_shared();
	sh->do_fork = sh->do_munmap = sh->do_dontneed = sh->do_mremap =
		sh->do_mprotect = sh->churn_pinning = true;
	run_stress(sh);
	assert_true(atomic_load(&sh->churn_pins) > 0);
	free(sh);
}

/* G4: GUP-fast pins against a stream of forks only: every pin coherent */
static void stress_fast_pin_vs_fork(void **state)
{
	(void)state;
	struct shared *sh = new_shared();
	sh->do_fork = true;
	run_stress(sh);
	assert_true(atomic_load(&sh->forks) > 0);
	free(sh);
}

/* pins of the churn region against munmap/mremap/DONTNEED (no fork) */
static void stress_pin_vs_unmap(void **state)
{
	(void)state;
	struct shared *sh = new_shared();
	sh->do_munmap = sh->do_dontneed = sh->do_mremap = sh->churn_pinning = true;
	run_stress(sh);
	assert_true(atomic_load(&sh->munmaps) + atomic_load(&sh->mremaps) > 0);
	free(sh);
}

/* ================================================ concurrent faulting === */

enum { FAULTERS = 3, FAULT_PAGES = 256 };

struct fault_arg {
	struct pinmm_mm *mm;
	uint64_t base;
	unsigned idx;
	unsigned long rounds;
	double deadline;
	struct failures *fail;
};

/* threads fault interleaved pages of one region (same page tables) */
static void *faulter(void *p)
{
	struct fault_arg *a = p;
	for (unsigned long r = 0; r < a->rounds && now_s() < a->deadline; r++) {
		for (unsigned i = a->idx; i < FAULT_PAGES; i += FAULTERS) {
			uint64_t addr = a->base + (uint64_t)i * PG + (r % 64);
			uint8_t v = (uint8_t)(i + r), got = 0;
			if (pinmm_store(a->mm, addr, &v, 1) != 0 ||
			    pinmm_load(a->mm, addr, &got, 1) != 0 || got != v)
				record(a->fail, "faulter %u: page %u lost its store",
				       a->idx, i);
		}
		/* give pages back now and then: new faults next round */
		if ((r & 3) == 3)
			for (unsigned i = a->idx; i < FAULT_PAGES; i += FAULTERS)
				if (pinmm_madvise(a->mm, a->base + (uint64_t)i * PG,
						  PG, PINMM_MADV_DONTNEED) != 0)
					record(a->fail, "faulter %u: DONTNEED failed",
					       a->idx);
	}
	return NULL;
}

static void stress_concurrent_faults(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t base = map_rw(mm, FAULT_PAGES);
	struct failures fail;
	pthread_t th[FAULTERS];
	struct fault_arg args[FAULTERS];
	double deadline = now_s() + cfg_seconds() / 2;

	init_failures(&fail);
	for (unsigned i = 0; i < FAULTERS; i++) {
		args[i] = (struct fault_arg){ mm, base, i, cfg_rounds() / 20 + 1,
					      deadline, &fail };
		assert_int_equal(pthread_create(&th[i], NULL, faulter, &args[i]), 0);
	}
	for (unsigned i = 0; i < FAULTERS; i++)
		pthread_join(th[i], NULL);
	assert_no_failures(&fail);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ============================================ many mms, one engine each === */

struct mm_arg {
	struct pinmm *eng;
	unsigned idx;
	unsigned long rounds;
	double deadline;
	struct failures *fail;
};

/* each thread lives its own process lives: create, map, pin, fork, exit */
static void *lifecycle(void *p)
{
	struct mm_arg *a = p;
	struct pinmm_page *pages[4];
	struct pinmm_pin pin;

	memset(&pin, 0, sizeof(pin));
	for (unsigned long r = 0; r < a->rounds && now_s() < a->deadline; r++) {
		struct pinmm_mm *mm = NULL, *child = NULL;
		uint64_t addr = 0;
		if (pinmm_mm_create(a->eng, &mm) != 0) {
			record(a->fail, "thread %u: mm_create failed", a->idx);
			return NULL;
		}
		if (pinmm_mmap(mm, 0, 8 * PG, PROT_RW,
			       PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE, &addr) != 0) {
			record(a->fail, "thread %u: mmap failed", a->idx);
			pinmm_mm_exit(mm);
			return NULL;
		}
		(void)pinmm_store_fill(mm, addr, (uint8_t)r, 8 * PG);
		int e = pinmm_pin(mm, &pin, addr + 2 * PG, 4,
				  PINMM_FOLL_WRITE | ((r & 1) ? PINMM_FOLL_LONGTERM : 0),
				  (r & 2) != 0, pages);
		if (e != 0) {
			record(a->fail, "thread %u: pin failed: %d", a->idx, e);
		} else {
			if (pinmm_fork(mm, &child) == 0) {
				uint8_t v = 0xAB;
				(void)pinmm_store(child, addr + 2 * PG, &v, 1);
				pinmm_mm_exit(child);
			} else {
				record(a->fail, "thread %u: fork failed", a->idx);
			}
			uint8_t v = (uint8_t)(r + 1), got = 0;
			(void)pinmm_store(mm, addr + 3 * PG, &v, 1);
			if (pinmm_dev_read(&pin, 1, 0, &got, 1) != 0 || got != v)
				record(a->fail, "thread %u: store after fork not "
				       "seen by the device", a->idx);
			if ((r & 4) != 0)
				(void)pinmm_munmap(mm, addr, 8 * PG);
			if ((r & 8) != 0) {
				pinmm_mm_exit(mm);
				mm = NULL;
			}
			if (pinmm_unpin(&pin) != 0)
				record(a->fail, "thread %u: unpin failed", a->idx);
		}
		if (mm)
			pinmm_mm_exit(mm);
	}
	return NULL;
}

static void stress_many_mms(void **state)
{
	(void)state;
	enum { T = 3 };
	struct pinmm *eng = make_strict_engine();
	struct failures fail;
	pthread_t th[T];
	struct mm_arg args[T];
	double deadline = now_s() + cfg_seconds() / 2;

	init_failures(&fail);
	for (unsigned i = 0; i < T; i++) {
		args[i] = (struct mm_arg){ eng, i, cfg_rounds() / 4 + 1, deadline,
					   &fail };
		assert_int_equal(pthread_create(&th[i], NULL, lifecycle, &args[i]), 0);
	}
	for (unsigned i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	assert_no_failures(&fail);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stress_pin_vs_everything),
		cmocka_unit_test(stress_fast_pin_vs_fork),
		cmocka_unit_test(stress_pin_vs_unmap),
		cmocka_unit_test(stress_concurrent_faults),
		cmocka_unit_test(stress_many_mms),
	};
	return cmocka_run_group_tests_name("conc_stress", tests, NULL, NULL);
}
