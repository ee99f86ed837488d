/* SPDX-License-Identifier: MIT */
/*
 * pinmm-bench - micro-benchmarks of the engine through its public API.
 *
 * Each sub-benchmark runs N repetitions (default 7) and reports the median,
 * min and max, per 4 KiB page in nanoseconds unless the unit column says
 * otherwise (us per 2 MiB range or THP, us per call, Mpages/s, ratios);
 * CLOCK_MONOTONIC. No checker runs in the hot path. Build in Release. The
 * page-moving sub-benchmarks (ksm, collapse, migrate, reclaim, thp-fault,
 * split) time the public calls of daemons.h. See docs/performance.md.
 *
 *   pinmm-bench [--reps N] [--policy TEXT] [--json] [NAME...]
 *   pinmm-bench --list | --help
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pinmm/pinmm.h>

#ifdef PINMM_BENCH_JSON
#include <json-c/json.h>
#endif

#define PG PINMM_PAGE_SIZE
#define RW (PINMM_PROT_READ | PINMM_PROT_WRITE)
#define MIB (1024ul * 1024ul)
#define BATCH 512ul
#define MAX_REPS 31

static int opt_reps = 7;
static struct pinmm_policy opt_policy;
static bool opt_json;

/* ------------------------------------------------------------ helpers --- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define CHECK(expr)                                                          \
	do {                                                                 \
		long _r = (long)(expr);                                      \
		if (_r < 0) {                                                \
			fprintf(stderr, "pinmm-bench: %s:%d: %s = %ld (%s)\n", \
				__FILE__, __LINE__, #expr, _r, strerror((int)-_r)); \
			exit(2);                                             \
		}                                                            \
	} while (0)

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One row of the output. Values are ns per page unless unit says else. */
struct result {
	const char *name;
	const char *what;
	const char *unit;	/* "ns/page", "x", ... */
	double med, min, max;
	double total_ms;	/* median total of one repetition, 0 if n/a */
	const char *host;	/* host-kernel figure (HOST-FACTS.md), or NULL */
};

#define MAX_RESULTS 96
static struct result results[MAX_RESULTS];
static int nr_results;

/* Summarise reps samples (ns per page) and the per-rep total (ns). */
static void add_result(const char *name, const char *what, const char *unit,
		       double *samples, int n, double *totals, const char *host)
{
	struct result *r = &results[nr_results++];
	double tmp[MAX_REPS];

	memcpy(tmp, samples, sizeof(double) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(double), cmp_double);
	*r = (struct result){ .name = name, .what = what, .unit = unit,
			      .med = tmp[n / 2], .min = tmp[0], .max = tmp[n - 1],
			      .host = host };
	if (totals) {
		memcpy(tmp, totals, sizeof(double) * (size_t)n);
		qsort(tmp, (size_t)n, sizeof(double), cmp_double);
		r->total_ms = tmp[n / 2] / 1e6;
	}
	if (!opt_json) {
		const char *fmt = r->med < 10 ? "%-22s %10.2f %10.2f %10.2f %-8s"
					      : "%-22s %10.1f %10.1f %10.1f %-8s";
		printf(fmt, name, r->med, r->min, r->max, unit);
		if (r->total_ms)
			printf(" %10.3f", r->total_ms);
		else
			printf(" %10s", "-");
		printf("  %s\n", what);
		fflush(stdout);
	}
}

static struct pinmm *new_engine(void)
{
	struct pinmm_config cfg;
	struct pinmm *eng;

	pinmm_config_default(&cfg);
	/* 1 GiB of movable frames: the arena is mapped NORESERVE, only
	 * touched frames cost memory. The normal zone is large enough for a
	 * future longterm_unmovable to move 256 MiB of pinned pages out. */
	cfg.movable_frames = 262144;
	cfg.normal_frames = 4096 + 65536;
	cfg.policy = opt_policy;
	CHECK(pinmm_create(&cfg, &eng));
	return eng;
}

static void free_engine(struct pinmm *eng)
{
	int r = pinmm_destroy(eng);

	if (r)
		fprintf(stderr, "pinmm-bench: pinmm_destroy: %d (leak)\n", r);
}

/* A populated (written) anonymous region of len bytes, 2 MiB aligned. */
/* Is addr mapped by a PMD leaf (a THP)? */
static bool is_huge(struct pinmm_mm *mm, uint64_t addr)
{
	struct pinmm_mapping m;

	return pinmm_follow_page(mm, addr, &m) == 0 && m.present && m.huge;
}

/* flags: 0, or PINMM_MAP_HUGEPAGE for a region of PMD-mapped THPs */
static uint64_t populated_region_flags(struct pinmm_mm *mm, uint64_t len, unsigned flags)
{
	uint64_t a;

	CHECK(pinmm_mmap(mm, 0, len, RW,
			 PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE | PINMM_MAP_ALIGN_2M | flags, &a));
	/* POPULATE may stop early on -ENOMEM and still return 0: touch all */
	for (uint64_t off = 0; off < len; off += PG)
		CHECK(pinmm_store_fill(mm, a + off, 0x5a, 1));
	return a;
}

static uint64_t populated_region(struct pinmm_mm *mm, uint64_t len)
{
	return populated_region_flags(mm, len, 0);
}

/* ------------------------------------------------- 1, 2: pin + unpin --- */

#define PIN_REGION (64 * MIB)
#define PIN_PAGES (PIN_REGION / PG)

static void bench_pin_fast_1(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	const unsigned long iters = 1ul << 18;	/* 262144 pin+unpin */
	double s[MAX_REPS], tot[MAX_REPS];

	CHECK(pinmm_mm_create(eng, &mm));
	uint64_t a = populated_region(mm, PIN_REGION);
	for (int r = 0; r < opt_reps; r++) {
		struct pinmm_page *p;
		double t0 = now_ns();
		for (unsigned long i = 0; i < iters; i++) {
			uint64_t addr = a + (i % PIN_PAGES) * PG;
			if (pinmm_pin_user_pages_fast(mm, addr, 1, PINMM_FOLL_WRITE, &p) != 1)
				exit(3);
			pinmm_unpin_user_page(p, true);
		}
		tot[r] = now_ns() - t0;
		s[r] = tot[r] / (double)iters;
	}
	add_result("pin-fast-1", "pin_user_pages_fast(1 page, W) + unpin, populated",
		   "ns/page", s, opt_reps, tot,
		   "≈0.7 µs fixed + 15–17 (register 4 KiB + unregister)");
	pinmm_mm_exit(mm);
	free_engine(eng);
}

/* Batched pin + unpin over a populated region (small pages, or THPs);
 * fast or slow GUP. */
/* The folio order of the page at addr. */
static unsigned order_at(struct pinmm_mm *mm, uint64_t addr)
{
	struct pinmm_mapping m;

	return pinmm_follow_page(mm, addr, &m) == 0 && m.present ? m.order : 0;
}

/* thp: 0 small pages, else the THP size the region is faulted in with
 * (2 MiB: PMD-mapped; below: mTHPs) */
static void bench_pin_batch(bool fast, uint64_t thp)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	struct pinmm_page *pages[BATCH];
	const unsigned long rounds = fast ? 512 : 256;	/* batches per rep */
	double s[MAX_REPS], sp[MAX_REPS], su[MAX_REPS], tot[MAX_REPS];

	CHECK(pinmm_mm_create(eng, &mm));
	if (thp && thp != PINMM_PMD_SIZE) {
		CHECK(pinmm_thp_set_enabled(eng, PINMM_PMD_SIZE, PINMM_THP_NEVER));
		CHECK(pinmm_thp_set_enabled(eng, thp, PINMM_THP_MADVISE));
	}
	uint64_t a = populated_region_flags(mm, PIN_REGION, thp ? PINMM_MAP_HUGEPAGE : 0);
	if (thp && (1ul << order_at(mm, a + PIN_REGION - PG)) * PG != thp) {
		fprintf(stderr, "pinmm-bench: no THPs of %lu KiB for the pin benchmark\n",
			(unsigned long)(thp >> 10));
		exit(3);
	}
	for (int r = 0; r < opt_reps; r++) {
		double tpin = 0, tunpin = 0;
		for (unsigned long i = 0; i < rounds; i++) {
			uint64_t addr = a + (i % (PIN_PAGES / BATCH)) * BATCH * PG;
			double t0 = now_ns();
			long n = fast ? pinmm_pin_user_pages_fast(mm, addr, BATCH,
								  PINMM_FOLL_WRITE, pages)
				      : pinmm_pin_user_pages(mm, addr, BATCH,
							     PINMM_FOLL_WRITE, pages);
			double t1 = now_ns();
			if (n != (long)BATCH)
				exit(3);
			pinmm_unpin_user_pages(pages, BATCH, true);
			double t2 = now_ns();
			tpin += t1 - t0;
			tunpin += t2 - t1;
		}
		double np = (double)(rounds * BATCH);
		tot[r] = tpin + tunpin;
		s[r] = tot[r] / np;
		sp[r] = tpin / np;
		su[r] = tunpin / np;
	}
	if (thp) {
		/* add_result keeps the pointers: one set of strings per row */
		static char text[4][4][80];
		bool pmd = thp == PINMM_PMD_SIZE;
		char (*t)[80] = text[(fast ? 0 : 2) + !pmd];
		char *name = t[0], *pin = t[1], *unpin = t[2], *what = t[3];
		const char *kind = fast ? "fast" : "slow", *size = pmd ? "thp" : "mthp64";
		snprintf(name, 80, "pin-%s-512-%s", kind, size);
		snprintf(pin, 80, "  pin-%s-512-%s.pin", kind, size);
		snprintf(unpin, 80, "  pin-%s-512-%s.unpin", kind, size);
		snprintf(what, 80, "%s(512, W) + unpin, %s",
			 fast ? "pin_user_pages_fast" : "pin_user_pages",
			 pmd ? "PMD-mapped THPs" : "64 KiB mTHPs");
		add_result(name, what, "ns/page", s, opt_reps, NULL, NULL);
		add_result(pin, "  of which pin", "ns/page", sp, opt_reps, NULL, NULL);
		add_result(unpin, "  of which unpin", "ns/page", su, opt_reps, NULL, NULL);
	} else if (fast) {
		add_result("pin-fast-512", "pin_user_pages_fast(512, W) + unpin_user_pages",
			   "ns/page", s, opt_reps, NULL,
			   "65–104 (register 50–87 + unregister 15–17)");
		add_result("  pin-fast-512.pin", "  of which pin", "ns/page", sp,
			   opt_reps, NULL, "50–87 (register)");
		add_result("  pin-fast-512.unpin", "  of which unpin", "ns/page", su,
			   opt_reps, NULL, "15–17 (unregister)");
	} else {
		add_result("pin-slow-512", "pin_user_pages(512, W) + unpin_user_pages",
			   "ns/page", s, opt_reps, NULL,
			   "65–104 (register 50–87 + unregister 15–17)");
		add_result("  pin-slow-512.pin", "  of which pin", "ns/page", sp,
			   opt_reps, NULL, NULL);
		add_result("  pin-slow-512.unpin", "  of which unpin", "ns/page", su,
			   opt_reps, NULL, NULL);
	}
	pinmm_mm_exit(mm);
	free_engine(eng);
}

static void bench_pin_fast_512(void) { bench_pin_batch(true, 0); }
static void bench_pin_slow_512(void) { bench_pin_batch(false, 0); }
static void bench_pin_fast_512_thp(void) { bench_pin_batch(true, PINMM_PMD_SIZE); }
static void bench_pin_slow_512_thp(void) { bench_pin_batch(false, PINMM_PMD_SIZE); }
static void bench_pin_fast_512_mthp64(void) { bench_pin_batch(true, 64 * 1024); }
static void bench_pin_slow_512_mthp64(void) { bench_pin_batch(false, 64 * 1024); }

/* ------------------------------------------------------------ 3: faults --- */

#define FAULT_REGION (256 * MIB)
#define FAULT_PAGES (FAULT_REGION / PG)

enum touch { TOUCH_WRITE, TOUCH_READ, TOUCH_RETOUCH };

static void bench_touch(enum touch kind)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	double s[MAX_REPS], tot[MAX_REPS];
	uint64_t a = 0;
	uint8_t b;
	double cold = 0, cold_pp;

	CHECK(pinmm_mm_create(eng, &mm));
	if (kind == TOUCH_RETOUCH)
		a = populated_region(mm, FAULT_REGION);
	/* r == -1: warm-up, untimed in the median. The first pass writes
	 * frames of the arena nobody touched yet, so it also pays the host
	 * kernel's page fault on the arena itself: reported apart. */
	for (int r = -1; r < opt_reps; r++) {
		if (kind != TOUCH_RETOUCH)
			CHECK(pinmm_mmap(mm, 0, FAULT_REGION, RW,
					 PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M, &a));
		double t0 = now_ns();
		for (uint64_t off = 0; off < FAULT_REGION; off += PG) {
			if (kind == TOUCH_READ)
				CHECK(pinmm_load(mm, a + off, &b, 1));
			else
				CHECK(pinmm_store_fill(mm, a + off, (uint8_t)r, 1));
		}
		double dt = now_ns() - t0;
		if (r >= 0) {
			tot[r] = dt;
			s[r] = dt / (double)FAULT_PAGES;
		} else {
			cold = dt;
		}
		if (kind != TOUCH_RETOUCH)
			CHECK(pinmm_munmap(mm, a, FAULT_REGION));
	}
	switch (kind) {
	case TOUCH_WRITE:
		add_result("fault-write", "first-touch write fault (store 1 B/page, 256 MiB)",
			   "ns/page", s, opt_reps, tot, "1640–1840");
		cold_pp = cold / (double)FAULT_PAGES;
		add_result("fault-write-cold", "same, first pass over never-used arena frames (1 run)",
			   "ns/page", &cold_pp, 1, &cold, "1640–1840");
		break;
	case TOUCH_READ:
		add_result("fault-read", "read fault to the zero page (load 1 B/page, 256 MiB)",
			   "ns/page", s, opt_reps, tot, "780–820");
		break;
	case TOUCH_RETOUCH:
		add_result("retouch", "store 1 B/page to populated page (256 MiB)",
			   "ns/page", s, opt_reps, tot, "17–19");
		break;
	}
	pinmm_mm_exit(mm);
	free_engine(eng);
}

static void bench_fault_write(void) { bench_touch(TOUCH_WRITE); }
static void bench_fault_read(void) { bench_touch(TOUCH_READ); }
static void bench_retouch(void) { bench_touch(TOUCH_RETOUCH); }

/* -------------------------------------------------------------- 4: fork --- */

#define FORK_REGION (256 * MIB)
#define FORK_PAGES (FORK_REGION / PG)

/* Median ns of fork() of mm; each child exits untimed. Before each fork the
 * whole region is written again (untimed), so that every fork sees writable,
 * exclusive pages, as a first fork would. One warm-up fork, untimed. */
static void time_forks(struct pinmm_mm *mm, uint64_t a, double *s, double *tot,
		       int reps)
{
	/* r == -1: warm-up (the first early copy writes never-used frames) */
	for (int r = -1; r < reps; r++) {
		struct pinmm_mm *child;

		for (uint64_t off = 0; off < FORK_REGION; off += PG)
			CHECK(pinmm_store_fill(mm, a + off, (uint8_t)r, 1));
		double t0 = now_ns();
		CHECK(pinmm_fork(mm, &child));
		double dt = now_ns() - t0;
		if (r >= 0) {
			tot[r] = dt;
			s[r] = dt / (double)FORK_PAGES;
		}
		pinmm_mm_exit(child);
	}
}

static void bench_fork(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	struct pinmm_page **pages = calloc(FORK_PAGES, sizeof(*pages));
	double s[3][MAX_REPS], tot[3][MAX_REPS], ratio[MAX_REPS], ratio_c[MAX_REPS];
	int reps = opt_reps < 5 ? opt_reps : 5;	/* the slow one: keep the run short */

	if (!pages)
		exit(2);
	CHECK(pinmm_mm_create(eng, &mm));
	uint64_t a = populated_region(mm, FORK_REGION);

	/* (a) nothing pinned */
	time_forks(mm, a, s[0], tot[0], reps);

	/* (b) all pinned R/W longterm through the page layer, 512 at a time */
	for (unsigned long i = 0; i < FORK_PAGES; i += BATCH)
		if (pinmm_pin_user_pages_fast(mm, a + i * PG, BATCH,
					      PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
					      pages + i) != (long)BATCH)
			exit(3);
	time_forks(mm, a, s[1], tot[1], reps);

	/* (c) pinned, MADV_DONTFORK */
	CHECK(pinmm_madvise(mm, a, FORK_REGION, PINMM_MADV_DONTFORK));
	time_forks(mm, a, s[2], tot[2], reps);
	CHECK(pinmm_madvise(mm, a, FORK_REGION, PINMM_MADV_DOFORK));

	pinmm_unpin_user_pages(pages, FORK_PAGES, true);
	free(pages);

	/* pair the repetitions in order: each ratio from neighbouring runs */
	for (int r = 0; r < reps; r++) {
		ratio[r] = s[1][r] / s[0][r];
		ratio_c[r] = s[2][r] / s[0][r];
	}
	add_result("fork", "fork, 256 MiB touched, nothing pinned", "ns/page",
		   s[0], reps, tot[0], "35–39 (2.3–2.5 ms)");
	add_result("fork-pinned", "fork, 256 MiB touched, all pinned (W, longterm)",
		   "ns/page", s[1], reps, tot[1], "1250–1440 (82–95 ms)");
	add_result("fork-dontfork", "same, pinned range MADV_DONTFORK", "ns/page",
		   s[2], reps, tot[2], "≈1 (55–78 µs)");
	add_result("fork-pinned/fork", "ratio pinned / unpinned fork", "x",
		   ratio, reps, NULL, "≈36 (32–41)");
	add_result("fork-dontfork/fork", "ratio DONTFORK / unpinned fork", "x",
		   ratio_c, reps, NULL, "≈0.03");
	pinmm_mm_exit(mm);
	free_engine(eng);
}

/* ----------------------------------------------------------- 5: scaling --- */

#define SCALE_REGION (64 * MIB)		/* per thread */
#define SCALE_PAGES (SCALE_REGION / PG)
#define SCALE_ROUNDS 2048ul		/* batches of 512 per thread per rep */

struct scale_arg {
	struct pinmm_mm *mm;
	uint64_t base;
	atomic_int *ready, *go;
	double cpu_ns;		/* out: this thread's CPU time in the loop */
};

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *scale_thread(void *p)
{
	struct scale_arg *arg = p;
	struct pinmm_page *pages[BATCH];

	/* first call: registers this thread with RCU, outside the timing */
	if (pinmm_pin_user_pages_fast(arg->mm, arg->base, 1, PINMM_FOLL_WRITE,
				      pages) != 1)
		exit(3);
	pinmm_unpin_user_page(pages[0], false);
	/* spin, not sleep, until all are ready: a futex wake-up would put
	 * the threads on the waker's CPU and they would share it for a while */
	atomic_fetch_add(arg->ready, 1);
	while (!atomic_load(arg->go))
		;
	double c0 = thread_cpu_ns();
	for (unsigned long i = 0; i < SCALE_ROUNDS; i++) {
		uint64_t addr = arg->base + (i % (SCALE_PAGES / BATCH)) * BATCH * PG;
		if (pinmm_pin_user_pages_fast(arg->mm, addr, BATCH, PINMM_FOLL_WRITE,
					      pages) != (long)BATCH)
			exit(3);
		pinmm_unpin_user_pages(pages, BATCH, true);
	}
	arg->cpu_ns = thread_cpu_ns() - c0;
	return NULL;
}

/* Wall time (ns) for nthreads threads each doing SCALE_ROUNDS batches;
 * *cpu gets their summed CPU time. */
static double scale_run(struct pinmm_mm **mms, uint64_t *bases, int nthreads,
			double *cpu)
{
	pthread_t th[2];
	struct scale_arg args[2];
	atomic_int ready = 0, go = 0;
	double t0;

	for (int t = 0; t < nthreads; t++) {
		args[t] = (struct scale_arg){ mms[t], bases[t], &ready, &go, 0 };
		pthread_create(&th[t], NULL, scale_thread, &args[t]);
	}
	while (atomic_load(&ready) < nthreads)
		;
	t0 = now_ns();
	atomic_store(&go, 1);
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	double dt = now_ns() - t0;
	*cpu = 0;
	for (int t = 0; t < nthreads; t++)
		*cpu += args[t].cpu_ns;
	return dt;
}

static void bench_scaling_mode(bool same_mm)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mms[2];
	uint64_t bases[2];
	double s1[MAX_REPS], s2[MAX_REPS], ratio[MAX_REPS], c1[MAX_REPS],
	       c2[MAX_REPS], cratio[MAX_REPS], par[MAX_REPS];
	const double pages_per_thread = (double)(SCALE_ROUNDS * BATCH);

	CHECK(pinmm_mm_create(eng, &mms[0]));
	if (same_mm) {
		mms[1] = mms[0];
		uint64_t a = populated_region(mms[0], 2 * SCALE_REGION);
		bases[0] = a;
		bases[1] = a + SCALE_REGION;
	} else {
		CHECK(pinmm_mm_create(eng, &mms[1]));
		bases[0] = populated_region(mms[0], SCALE_REGION);
		bases[1] = populated_region(mms[1], SCALE_REGION);
	}
	for (int r = 0; r < opt_reps; r++) {
		double cpu1, cpu2;
		double t1 = scale_run(mms, bases, 1, &cpu1);
		double t2 = scale_run(mms, bases, 2, &cpu2);
		s1[r] = t1 / pages_per_thread;		/* ns per page, 1 thread */
		s2[r] = t2 / (2 * pages_per_thread);	/* ns per page, aggregate */
		ratio[r] = (2 * pages_per_thread / t2) / (pages_per_thread / t1);
		/* CPU time per page: rises with contention (shared cache
		 * lines), not with time spent descheduled on a busy machine */
		c1[r] = cpu1 / pages_per_thread;
		c2[r] = cpu2 / (2 * pages_per_thread);
		cratio[r] = c2[r] / c1[r];
		/* CPUs actually used by the 2 threads: ≈2 on an idle machine;
		 * ≈1 means they shared one CPU and the ratios say nothing */
		par[r] = cpu2 / t2;
	}
	if (same_mm) {
		add_result("scale-1t", "1 thread, pin_fast 512 + unpin (wall/page)",
			   "ns/page", s1, opt_reps, NULL, NULL);
		add_result("scale-2t", "2 threads, disjoint pages, one mm (wall/page)",
			   "ns/page", s2, opt_reps, NULL, NULL);
		add_result("scale-2t/1t", "throughput 2 threads / 1 thread, one mm",
			   "x", ratio, opt_reps, NULL, NULL);
		add_result("scale-2t-cpus", "CPUs used by the 2 threads (CPU time / wall)",
			   "cpus", par, opt_reps, NULL, NULL);
		add_result("scale-cpu-1t", "CPU time per page, 1 thread", "ns/page",
			   c1, opt_reps, NULL, NULL);
		add_result("scale-cpu-2t", "CPU time per page, 2 threads, one mm",
			   "ns/page", c2, opt_reps, NULL, NULL);
		add_result("scale-cpu-2t/1t", "CPU cost per page 2t / 1t (1 = no contention)",
			   "x", cratio, opt_reps, NULL, NULL);
	} else {
		add_result("scale-2t-2mm", "2 threads, one mm each (wall/page)",
			   "ns/page", s2, opt_reps, NULL, NULL);
		add_result("scale-2t-2mm/1t", "throughput 2 threads / 1 thread, two mms",
			   "x", ratio, opt_reps, NULL, NULL);
		add_result("scale-2t-2mm-cpus", "CPUs used by the 2 threads, two mms",
			   "cpus", par, opt_reps, NULL, NULL);
		add_result("scale-cpu-2t-2mm/1t", "CPU cost per page 2t / 1t, two mms",
			   "x", cratio, opt_reps, NULL, NULL);
	}
	pinmm_mm_exit(mms[0]);
	if (!same_mm)
		pinmm_mm_exit(mms[1]);
	free_engine(eng);
}

static void bench_scaling(void)
{
	bench_scaling_mode(true);
	bench_scaling_mode(false);
}

/* ------------------------------------------------ 6: moving pages --- */

/*
 * The mechanisms that move pages: KSM, collapse (MADV_COLLAPSE and
 * khugepaged), migration, reclaim and swap-in, THP faults, splits. Each
 * runs one untimed warm-up repetition (r == -1) first, since a fresh engine
 * hands out arena frames the host kernel has not faulted in yet.
 */

#define HPAGE PINMM_PMD_SIZE
#define HPAGE_PAGES (HPAGE / PG)

/* An anonymous R/W mapping of len bytes, 2 MiB aligned, nothing faulted. */
static uint64_t map_region(struct pinmm_mm *mm, uint64_t len, unsigned flags)
{
	uint64_t a;

	CHECK(pinmm_mmap(mm, 0, len, RW, PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | flags, &a));
	return a;
}

#define KSM_REGION (64 * MIB)
#define KSM_PAGES (KSM_REGION / PG)

/* Write an 8-byte tag at the start of each page (the rest stays zero).
 * pairs: pages 2k and 2k+1 of the first half get the same tag; every other
 * page has a tag of its own. */
static void ksm_fill(struct pinmm_mm *mm, uint64_t a, bool pairs)
{
	for (uint64_t i = 0; i < KSM_PAGES; i++) {
		uint64_t tag = pairs && i < KSM_PAGES / 2 ? i / 2 + 1 : KSM_PAGES + i;
		CHECK(pinmm_store(mm, a + i * PG, &tag, sizeof(tag)));
	}
}

static double ksm_scan_timed(struct pinmm *eng, long expect)
{
	double t0 = now_ns();
	long n = pinmm_ksm_scan(eng, 1);
	double dt = now_ns() - t0;

	CHECK(n);
	if (n != expect) {
		fprintf(stderr, "pinmm-bench: ksm: %ld pages share a KSM page, expected %ld\n",
			n, expect);
		exit(3);
	}
	return dt;
}

static void bench_ksm(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	double su[MAX_REPS], sp[MAX_REPS], sr[MAX_REPS], tu[MAX_REPS], tp[MAX_REPS],
	       tr[MAX_REPS], ru[MAX_REPS], rp[MAX_REPS], rr[MAX_REPS], merge[MAX_REPS],
	       count[MAX_REPS];
	const double np = (double)KSM_PAGES;
	const long merged = KSM_PAGES / 4;	/* pairs: one frame freed per pair */

	CHECK(pinmm_mm_create(eng, &mm));
	for (int r = -1; r < opt_reps; r++) {
		/* (a) all pages distinct: hash, sort, nothing to merge */
		uint64_t a = map_region(mm, KSM_REGION, 0);
		ksm_fill(mm, a, false);
		CHECK(pinmm_madvise(mm, a, KSM_REGION, PINMM_MADV_MERGEABLE));
		double t_u = ksm_scan_timed(eng, 0);
		CHECK(pinmm_munmap(mm, a, KSM_REGION));

		/* (b) half the pages identical in pairs: merge them */
		a = map_region(mm, KSM_REGION, 0);
		ksm_fill(mm, a, true);
		CHECK(pinmm_madvise(mm, a, KSM_REGION, PINMM_MADV_MERGEABLE));
		double t_p = ksm_scan_timed(eng, 2 * merged);
		/* (c) the same set again: everything merged already */
		double t_r = ksm_scan_timed(eng, 2 * merged);
		CHECK(pinmm_munmap(mm, a, KSM_REGION));

		/* (d) what every call pays after its passes: a sweep of all
		 * frames that counts the KSM mappings (passes = 0) */
		double t0 = now_ns();
		CHECK(pinmm_ksm_scan(eng, 0));
		double t_c = now_ns() - t0;
		if (r < 0)
			continue;
		tu[r] = t_u, tp[r] = t_p, tr[r] = t_r;
		su[r] = t_u / np, sp[r] = t_p / np, sr[r] = t_r / np;
		ru[r] = np / t_u * 1e3, rp[r] = np / t_p * 1e3, rr[r] = np / t_r * 1e3;
		merge[r] = (t_p - t_u) / (double)merged;
		count[r] = t_c / 1e3;
	}
	add_result("ksm-scan", "ksm_scan(1 pass), 64 MiB mergeable, all pages distinct",
		   "ns/page", su, opt_reps, tu, NULL);
	add_result("  ksm-scan.rate", "  pages scanned per second", "Mpages/s", ru,
		   opt_reps, NULL, NULL);
	add_result("ksm-scan-pairs", "same, half the pages identical in pairs (4096 merges)",
		   "ns/page", sp, opt_reps, tp, NULL);
	add_result("  ksm-scan-pairs.rate", "  pages scanned per second", "Mpages/s", rp,
		   opt_reps, NULL, NULL);
	add_result("ksm-merge", "merge cost per merged page (pairs - distinct) / 4096",
		   "ns/merge", merge, opt_reps, NULL, NULL);
	add_result("ksm-rescan", "ksm_scan(1 pass) of the already-merged set",
		   "ns/page", sr, opt_reps, tr, NULL);
	add_result("  ksm-rescan.rate", "  pages scanned per second", "Mpages/s", rr,
		   opt_reps, NULL, NULL);
	add_result("ksm-count", "ksm_scan(0 passes): the frame sweep every call ends with",
		   "us/call", count, opt_reps, NULL, NULL);
	pinmm_mm_exit(mm);
	free_engine(eng);
}

#define COLLAPSE_REGION (64 * MIB)
#define COLLAPSE_RANGES (COLLAPSE_REGION / HPAGE)

/* 512 small pages per 2 MiB range, all written, then MADV_HUGEPAGE. */
static uint64_t collapsible_region(struct pinmm_mm *mm)
{
	uint64_t a = map_region(mm, COLLAPSE_REGION, PINMM_MAP_NOHUGEPAGE);

	for (uint64_t off = 0; off < COLLAPSE_REGION; off += PG)
		CHECK(pinmm_store_fill(mm, a + off, 0x5a, 1));
	CHECK(pinmm_madvise(mm, a, COLLAPSE_REGION, PINMM_MADV_HUGEPAGE));
	if (is_huge(mm, a))
		exit(3);
	return a;
}

static void bench_collapse(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	double sc[MAX_REPS], sk[MAX_REPS], sr[MAX_REPS], tc[MAX_REPS], tk[MAX_REPS],
	       tr[MAX_REPS];
	const double nr = (double)COLLAPSE_RANGES;

	CHECK(pinmm_mm_create(eng, &mm));
	for (int r = -1; r < opt_reps; r++) {
		/* MADV_COLLAPSE, one call per 2 MiB range */
		uint64_t a = collapsible_region(mm);
		double t_c = 0;
		for (uint64_t h = a; h < a + COLLAPSE_REGION; h += HPAGE) {
			double t0 = now_ns();
			CHECK(pinmm_madvise(mm, h, HPAGE, PINMM_MADV_COLLAPSE));
			t_c += now_ns() - t0;
		}
		if (!is_huge(mm, a) || !is_huge(mm, a + COLLAPSE_REGION - PG))
			exit(3);
		CHECK(pinmm_munmap(mm, a, COLLAPSE_REGION));

		/* khugepaged: one pass collapses every range, a second finds
		 * nothing left to do */
		a = collapsible_region(mm);
		double t0 = now_ns();
		long n = pinmm_khugepaged_scan(eng, 1);
		double t_k = now_ns() - t0;
		if (n != (long)COLLAPSE_RANGES) {
			fprintf(stderr, "pinmm-bench: khugepaged collapsed %ld\n", n);
			exit(3);
		}
		t0 = now_ns();
		n = pinmm_khugepaged_scan(eng, 1);
		double t_r = now_ns() - t0;
		if (n != 0)
			exit(3);
		CHECK(pinmm_munmap(mm, a, COLLAPSE_REGION));
		if (r < 0)
			continue;
		tc[r] = t_c, tk[r] = t_k, tr[r] = t_r;
		sc[r] = t_c / nr / 1e3, sk[r] = t_k / nr / 1e3, sr[r] = t_r / nr / 1e3;
	}
	add_result("collapse", "madvise(COLLAPSE) of 2 MiB: 512 written small pages -> THP",
		   "us/2MiB", sc, opt_reps, tc, NULL);
	add_result("khugepaged", "khugepaged_scan(1), per range collapsed (32 ranges)",
		   "us/2MiB", sk, opt_reps, tk, NULL);
	add_result("khugepaged-rescan", "khugepaged_scan(1) again, all THPs already",
		   "us/2MiB", sr, opt_reps, tr, NULL);
	pinmm_mm_exit(mm);
	free_engine(eng);
}

#define MIGRATE_REGION (16 * MIB)
#define MIGRATE_PAGES (MIGRATE_REGION / PG)

static double migrate_all(struct pinmm_mm *mm, uint64_t a)
{
	double t0 = now_ns();

	for (uint64_t off = 0; off < MIGRATE_REGION; off += PG)
		CHECK(pinmm_migrate(mm, a + off));
	return now_ns() - t0;
}

static void bench_migrate(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm, *child;
	double s1[MAX_REPS], s2[MAX_REPS], t1[MAX_REPS], t2[MAX_REPS], ratio[MAX_REPS];
	const double np = (double)MIGRATE_PAGES;

	CHECK(pinmm_mm_create(eng, &mm));
	uint64_t a = populated_region(mm, MIGRATE_REGION);
	uint64_t b = populated_region(mm, MIGRATE_REGION);
	/* b is shared with a child: two mappings per page, COW */
	CHECK(pinmm_madvise(mm, a, MIGRATE_REGION, PINMM_MADV_DONTFORK));
	CHECK(pinmm_fork(mm, &child));
	for (int r = -1; r < opt_reps; r++) {
		double d1 = migrate_all(mm, a);
		double d2 = migrate_all(mm, b);
		if (r < 0)
			continue;
		t1[r] = d1, t2[r] = d2;
		s1[r] = d1 / np, s2[r] = d2 / np;
		ratio[r] = s2[r] / s1[r];
	}
	{
		struct pinmm_mapping m;
		CHECK(pinmm_follow_page(child, b, &m));
		struct pinmm_folio_info fi;
		pinmm_folio_info(m.page, &fi);
		if (fi.mapcount != 2)
			exit(3);	/* still shared by parent and child */
	}
	add_result("migrate", "migrate, populated anon page, one mapping (16 MiB)",
		   "ns/page", s1, opt_reps, t1, NULL);
	add_result("migrate-shared", "migrate, page shared by parent + child after fork",
		   "ns/page", s2, opt_reps, t2, NULL);
	add_result("migrate-shared/migrate", "ratio shared / one mapping", "x", ratio,
		   opt_reps, NULL, NULL);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	free_engine(eng);
}

/* Reclaim nr pages of a populated region, then load each one back. */
static void reclaim_run(struct pinmm *eng, struct pinmm_mm *mm, uint64_t a,
			unsigned long nr, double *out, double *in)
{
	uint8_t byte;
	double t0 = now_ns();
	long n = pinmm_reclaim(eng, nr);

	*out = now_ns() - t0;
	CHECK(n);
	if (n != (long)nr) {
		fprintf(stderr, "pinmm-bench: reclaim: %ld of %lu pages\n", n, nr);
		exit(3);
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < nr; i++)
		CHECK(pinmm_load(mm, a + i * PG, &byte, 1));
	*in = now_ns() - t0;
}

/* Reclaim is measured at three sizes: its per-page cost should not depend
 * on how many pages one call reclaims. The largest runs at most 3 reps. */
static const unsigned long reclaim_sizes[] = { 4096, 16384, 65536 };	/* pages */
#define RECLAIM_NR_SIZES 3
#define RECLAIM_MAIN 1		/* swap-in is reported for this size */

static void bench_reclaim(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	double so[RECLAIM_NR_SIZES][MAX_REPS], to[RECLAIM_NR_SIZES][MAX_REPS],
	       si[MAX_REPS], ti[MAX_REPS], grow[2][MAX_REPS], sweep[MAX_REPS];
	int reps_big = opt_reps < 3 ? opt_reps : 3;

	CHECK(pinmm_mm_create(eng, &mm));
	for (int r = -1; r < opt_reps; r++) {
		for (int k = 0; k < RECLAIM_NR_SIZES; k++) {
			unsigned long nr = reclaim_sizes[k];
			double d_out, d_in;

			if (k == RECLAIM_NR_SIZES - 1 && r >= reps_big)
				continue;
			/* the region is the engine's only anonymous memory:
			 * reclaim has nothing else to take */
			uint64_t a = populated_region(mm, nr * PG);
			reclaim_run(eng, mm, a, nr, &d_out, &d_in);
			CHECK(pinmm_munmap(mm, a, nr * PG));
			if (r < 0)
				continue;
			to[k][r] = d_out;
			so[k][r] = d_out / (double)nr;
			if (k == RECLAIM_MAIN) {
				ti[r] = d_in;
				si[r] = d_in / (double)nr;
			}
		}
		/* nothing to reclaim: both sweeps over every frame, the fixed
		 * cost of a call */
		double t0 = now_ns();
		if (pinmm_reclaim(eng, 1) != 0)
			exit(3);
		if (r >= 0)
			sweep[r] = (now_ns() - t0) / 1e3;
	}
	for (int r = 0; r < opt_reps; r++)
		grow[0][r] = so[1][r] / so[0][r];
	for (int r = 0; r < reps_big; r++)
		grow[1][r] = so[2][r] / so[0][r];
	add_result("reclaim-4096", "pinmm_reclaim of 4096 pages (16 MiB) -> swap, per page",
		   "ns/page", so[0], opt_reps, to[0], NULL);
	add_result("reclaim", "same, 16384 pages (64 MiB)", "ns/page", so[1], opt_reps,
		   to[1], NULL);
	add_result("reclaim-65536", "same, 65536 pages (256 MiB; at most 3 reps)", "ns/page",
		   so[2], reps_big, to[2], NULL);
	add_result("reclaim/reclaim-4096", "per-page cost 16384 / 4096 pages (1 = linear)",
		   "x", grow[0], opt_reps, NULL, NULL);
	add_result("reclaim-65536/4096", "per-page cost 65536 / 4096 pages (1 = linear)",
		   "x", grow[1], reps_big, NULL, NULL);
	add_result("swap-in", "load 1 B after reclaim: swap-in fault, 16384 pages",
		   "ns/page", si, opt_reps, ti, NULL);
	add_result("reclaim-sweep", "pinmm_reclaim(1) with no anon page: 2 sweeps of all frames",
		   "us/call", sweep, opt_reps, NULL, NULL);
	pinmm_mm_exit(mm);
	free_engine(eng);
}

#define THP_REGION (256 * MIB)
#define THP_HPAGES (THP_REGION / HPAGE)

/* Time the stores of one fresh region: one byte every step bytes. */
static double touch_region(struct pinmm_mm *mm, unsigned flags, uint64_t step,
			   uint8_t byte)
{
	uint64_t a = map_region(mm, THP_REGION, flags);
	double t0 = now_ns();

	for (uint64_t off = 0; off < THP_REGION; off += step)
		CHECK(pinmm_store_fill(mm, a + off, byte, 1));
	double dt = now_ns() - t0;
	if (is_huge(mm, a) != !!(flags & PINMM_MAP_HUGEPAGE))
		exit(3);
	CHECK(pinmm_munmap(mm, a, THP_REGION));
	return dt;
}

static void bench_thp_fault(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	double th[MAX_REPS], ta[MAX_REPS], ts[MAX_REPS], sh[MAX_REPS], sh4[MAX_REPS],
	       sa4[MAX_REPS], ss[MAX_REPS], ss4[MAX_REPS], ratio[MAX_REPS],
	       ratio_a[MAX_REPS];
	const double nh = (double)THP_HPAGES, np = (double)(THP_REGION / PG);

	CHECK(pinmm_mm_create(eng, &mm));
	for (int r = -1; r < opt_reps; r++) {
		/* one store per 2 MiB: the THP fault alone */
		double d_h = touch_region(mm, PINMM_MAP_HUGEPAGE, HPAGE, (uint8_t)r);
		/* one store per 4 KiB of a THP region: 1 fault + 511 re-touches */
		double d_a = touch_region(mm, PINMM_MAP_HUGEPAGE, PG, (uint8_t)r);
		/* one store per 4 KiB, small pages: 512 faults per 2 MiB */
		double d_s = touch_region(mm, PINMM_MAP_NOHUGEPAGE, PG, (uint8_t)r);
		if (r < 0)
			continue;
		th[r] = d_h, ta[r] = d_a, ts[r] = d_s;
		sh[r] = d_h / nh / 1e3, sh4[r] = d_h / np;
		sa4[r] = d_a / np;
		ss[r] = d_s / nh / 1e3, ss4[r] = d_s / np;
		ratio[r] = d_s / d_h;
		ratio_a[r] = d_s / d_a;
	}
	add_result("thp-fault", "first-touch store, HUGEPAGE region: 1 fault per 2 MiB",
		   "us/2MiB", sh, opt_reps, th, NULL);
	add_result("  thp-fault.4k", "  the same per 4 KiB", "ns/page", sh4, opt_reps,
		   NULL, NULL);
	add_result("thp-touch-all", "store to every 4 KiB of a HUGEPAGE region (1 fault + 511)",
		   "ns/page", sa4, opt_reps, ta, NULL);
	add_result("small-fault", "store to every 4 KiB, NOHUGEPAGE: 512 faults per 2 MiB",
		   "us/2MiB", ss, opt_reps, ts, NULL);
	add_result("  small-fault.4k", "  the same per 4 KiB", "ns/page", ss4, opt_reps,
		   NULL, "1640–1840");
	add_result("small/thp-fault", "ratio 512 small faults / 1 THP fault (per 2 MiB)",
		   "x", ratio, opt_reps, NULL, NULL);
	add_result("small/thp-touch-all", "ratio small faults / THP touch of every 4 KiB",
		   "x", ratio_a, opt_reps, NULL, NULL);
	pinmm_mm_exit(mm);
	free_engine(eng);
}

/* First touch of anonymous memory in folios of each THP size (mTHP 16 KiB
 * .. 1 MiB, then the PMD size and small pages): one store per folio, so
 * one fault allocates, zeroes and maps each; per 4 KiB page. */
#define MTHP_REGION (64 * MIB)

static void bench_mthp_fault(void)
{
	static char names[9][32], whats[9][80];	/* add_result keeps pointers */
	double s[9][MAX_REPS];
	int nr = 0;

	for (unsigned order = 0; order <= 9; order++) {
		if (order == 1)
			continue;	/* no anonymous size */
		struct pinmm *eng = new_engine();
		struct pinmm_mm *mm;
		uint64_t size = PG << order;

		CHECK(pinmm_mm_create(eng, &mm));
		CHECK(pinmm_thp_set_enabled(eng, HPAGE, PINMM_THP_NEVER));
		if (order)
			CHECK(pinmm_thp_set_enabled(eng, size, PINMM_THP_MADVISE));
		for (int r = -1; r < opt_reps; r++) {
			uint64_t a = map_region(mm, MTHP_REGION, PINMM_MAP_HUGEPAGE);
			double t0 = now_ns();
			for (uint64_t off = 0; off < MTHP_REGION; off += size)
				CHECK(pinmm_store_fill(mm, a + off, (uint8_t)r, 1));
			double dt = now_ns() - t0;
			if (order_at(mm, a + MTHP_REGION - PG) != order)
				exit(3);
			CHECK(pinmm_munmap(mm, a, MTHP_REGION));
			if (r >= 0)
				s[nr][r] = dt / (double)(MTHP_REGION / PG);
		}
		snprintf(names[nr], sizeof(names[0]), order ? "mthp-fault-%luk" : "mthp-fault-4k",
			 (unsigned long)(size >> 10));
		snprintf(whats[nr], sizeof(whats[0]), "first-touch store per %lu KiB folio%s",
			 (unsigned long)(size >> 10), order == 9 ? " (PMD THP)" : order ? " (mTHP)" : "");
		add_result(names[nr], whats[nr], "ns/page", s[nr], opt_reps, NULL, NULL);
		nr++;
		pinmm_mm_exit(mm);
		free_engine(eng);
	}
}

#define SPLIT_REGION (64 * MIB)
#define SPLIT_HPAGES (SPLIT_REGION / HPAGE)

/* A region of PMD-mapped THPs (MAP_POPULATE faults them). */
static uint64_t thp_region(struct pinmm_mm *mm)
{
	uint64_t a = map_region(mm, SPLIT_REGION, PINMM_MAP_HUGEPAGE | PINMM_MAP_POPULATE);

	for (uint64_t h = a; h < a + SPLIT_REGION; h += HPAGE)
		if (!is_huge(mm, h))
			exit(3);
	return a;
}

static void bench_split(void)
{
	struct pinmm *eng = new_engine();
	struct pinmm_mm *mm;
	double sp[MAX_REPS], sf[MAX_REPS], sb[MAX_REPS];
	const double nh = (double)SPLIT_HPAGES;

	CHECK(pinmm_mm_create(eng, &mm));
	for (int r = -1; r < opt_reps; r++) {
		double d_p = 0, d_f = 0, d_b = 0, t0;

		/* split_pmd, then split_folio of the now PTE-mapped folio */
		uint64_t a = thp_region(mm);
		for (uint64_t h = a; h < a + SPLIT_REGION; h += HPAGE) {
			t0 = now_ns();
			CHECK(pinmm_split_pmd(mm, h));
			d_p += now_ns() - t0;
		}
		for (uint64_t h = a; h < a + SPLIT_REGION; h += HPAGE) {
			t0 = now_ns();
			CHECK(pinmm_split_folio(mm, h));
			d_f += now_ns() - t0;
		}
		CHECK(pinmm_munmap(mm, a, SPLIT_REGION));
		/* split_folio of a PMD-mapped THP: both steps in one call */
		a = thp_region(mm);
		for (uint64_t h = a; h < a + SPLIT_REGION; h += HPAGE) {
			t0 = now_ns();
			CHECK(pinmm_split_folio(mm, h));
			d_b += now_ns() - t0;
		}
		{
			struct pinmm_mapping m;
			CHECK(pinmm_follow_page(mm, a + HPAGE - PG, &m));
			if (m.huge || m.order)
				exit(3);
		}
		CHECK(pinmm_munmap(mm, a, SPLIT_REGION));
		if (r < 0)
			continue;
		sp[r] = d_p / nh / 1e3, sf[r] = d_f / nh / 1e3, sb[r] = d_b / nh / 1e3;
	}
	add_result("split-pmd", "split_pmd: PMD leaf -> 512 PTEs (32 THPs)", "us/THP", sp,
		   opt_reps, NULL, NULL);
	add_result("split-folio", "split_folio of a PTE-mapped THP (after split-pmd)",
		   "us/THP", sf, opt_reps, NULL, NULL);
	add_result("split-folio-pmd", "split_folio of a PMD-mapped THP (both steps)",
		   "us/THP", sb, opt_reps, NULL, NULL);
	pinmm_mm_exit(mm);
	free_engine(eng);
}

/* -------------------------------------------------------------- driver --- */

/* The machine is shared: say how busy it was (1-minute load average). */
static void print_load(const char *when)
{
	char buf[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			strcpy(buf, "?\n");
		fclose(f);
	}
	printf("# load average at %s: %s", when, buf);
	if (!strchr(buf, '\n'))
		putchar('\n');
}

static const struct bench {
	const char *name;
	void (*fn)(void);
	const char *help;
} benches[] = {
	{ "pin-fast-1", bench_pin_fast_1, "GUP-fast pin + unpin of one page, 2^18 times over 64 MiB" },
	{ "pin-fast-512", bench_pin_fast_512, "GUP-fast pin of 512 pages + unpin_user_pages, 512 batches" },
	{ "pin-slow-512", bench_pin_slow_512, "slow GUP (mmap_lock, ptl) pin of 512 pages + unpin, 256 batches" },
	{ "pin-fast-512-thp", bench_pin_fast_512_thp, "GUP-fast pin of 512 pages of PMD-mapped THPs + unpin, 512 batches" },
	{ "pin-slow-512-thp", bench_pin_slow_512_thp, "slow GUP pin of 512 pages of PMD-mapped THPs + unpin, 256 batches" },
	{ "mthp-fault", bench_mthp_fault, "first-touch store per folio of every THP size, 4K .. 2M, 64 MiB each" },
	{ "pin-fast-512-mthp64", bench_pin_fast_512_mthp64, "GUP-fast pin of 512 pages of 64 KiB mTHPs + unpin, 512 batches" },
	{ "pin-slow-512-mthp64", bench_pin_slow_512_mthp64, "slow GUP pin of 512 pages of 64 KiB mTHPs + unpin, 256 batches" },
	{ "fault-write", bench_fault_write, "first-touch write fault, 256 MiB fresh region" },
	{ "fault-read", bench_fault_read, "read fault (zero page), 256 MiB fresh region" },
	{ "retouch", bench_retouch, "store to a populated page, 256 MiB" },
	{ "fork", bench_fork, "fork of 256 MiB touched: unpinned, all pinned, pinned + DONTFORK" },
	{ "scaling", bench_scaling, "2 threads vs 1 pinning disjoint pages (fast, batch 512)" },
	{ "ksm", bench_ksm, "ksm_scan of 64 MiB mergeable: distinct, half in pairs, rescan" },
	{ "collapse", bench_collapse, "MADV_COLLAPSE and khugepaged_scan per 2 MiB of small pages" },
	{ "migrate", bench_migrate, "pinmm_migrate per page: one mapping, shared after fork" },
	{ "reclaim", bench_reclaim, "pinmm_reclaim to swap per page (4096, 16384, 65536 pages), swap-in" },
	{ "thp-fault", bench_thp_fault, "first touch of HUGEPAGE vs NOHUGEPAGE 256 MiB" },
	{ "split", bench_split, "split_pmd and split_folio per THP" },
};
#define NR_BENCHES (sizeof(benches) / sizeof(benches[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pinmm-bench [--reps N] [--policy TEXT] [--json] [NAME...]\n"
		"       pinmm-bench --list | --help\n\n"
		"Runs the named sub-benchmarks (all when none is named) and prints the\n"
		"median, min and max over N repetitions (default 7, 1..%d), in ns per\n"
		"4 KiB page unless the unit says otherwise; total = median time of one\n"
		"repetition. Host figures are quoted from HOST-FACTS.md, not measured.\n\n"
		"  --reps N       repetitions per benchmark (fork uses at most 5)\n"
		"  --policy TEXT  engine policy (default strict; e.g. legacy)\n"
		"  --json         print a JSON array instead of the table%s\n"
		"  --list         list the sub-benchmarks\n\n"
		"The no-allocation check of the GUP-fast path is pinmm-bench-alloc.\n",
		MAX_REPS,
#ifdef PINMM_BENCH_JSON
		""
#else
		" (not built in: no json-c)"
#endif
	);
}

#ifdef PINMM_BENCH_JSON
static void print_json(void)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];
		json_object *o = json_object_new_object();
		const char *name = r->name;

		while (*name == ' ')
			name++;
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "what", json_object_new_string(r->what));
		json_object_object_add(o, "unit", json_object_new_string(r->unit));
		json_object_object_add(o, "median", json_object_new_double(r->med));
		json_object_object_add(o, "min", json_object_new_double(r->min));
		json_object_object_add(o, "max", json_object_new_double(r->max));
		if (r->total_ms)
			json_object_object_add(o, "total_ms",
					       json_object_new_double(r->total_ms));
		if (r->host)
			json_object_object_add(o, "host_facts",
					       json_object_new_string(r->host));
		json_object_array_add(arr, o);
	}
	puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
						 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}
#endif

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "policy", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool selected[NR_BENCHES] = { false };
	bool any = false;
	int c;

	opt_policy = PINMM_POLICY_STRICT;
	while ((c = getopt_long(argc, argv, "r:p:jlh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			opt_reps = atoi(optarg);
			if (opt_reps < 1 || opt_reps > MAX_REPS) {
				fprintf(stderr, "pinmm-bench: --reps must be 1..%d\n", MAX_REPS);
				return 1;
			}
			break;
		case 'p': {
			char err[160] = "";
			if (pinmm_policy_parse(optarg, &opt_policy, err, sizeof(err))) {
				fprintf(stderr, "pinmm-bench: --policy: %s\n", err);
				return 1;
			}
			break;
		}
		case 'j':
#ifndef PINMM_BENCH_JSON
			fprintf(stderr, "pinmm-bench: built without json-c, no --json\n");
			return 1;
#endif
			opt_json = true;
			break;
		case 'l':
			for (size_t i = 0; i < NR_BENCHES; i++)
				printf("%-14s %s\n", benches[i].name, benches[i].help);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	for (int i = optind; i < argc; i++) {
		size_t k;
		for (k = 0; k < NR_BENCHES; k++)
			if (!strcmp(argv[i], benches[k].name))
				break;
		if (k == NR_BENCHES) {
			fprintf(stderr, "pinmm-bench: unknown benchmark '%s' (--list)\n", argv[i]);
			return 1;
		}
		selected[k] = any = true;
	}

	if (!opt_json) {
		char pol[128];
		pinmm_policy_format(opt_policy, pol, sizeof(pol));
		printf("# pinmm-bench: %d reps, policy %s; per 4 KiB page unless unit says else\n",
		       opt_reps, pol);
		print_load("start");
		printf("%-22s %10s %10s %10s %-8s %10s  %s\n", "benchmark", "median",
		       "min", "max", "unit", "total ms", "what");
	}
	for (size_t k = 0; k < NR_BENCHES; k++)
		if (!any || selected[k])
			benches[k].fn();
	if (!opt_json)
		print_load("end");
#ifdef PINMM_BENCH_JSON
	if (opt_json)
		print_json();
#endif
	return 0;
}
