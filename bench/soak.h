/* SPDX-License-Identifier: MIT */
/*
 * bench/soak.h - the soak loop shared by bench/pinmm-soak.c (minutes to
 * hours) and tests/test_conc_soak.c (a few seconds, also under TSan).
 *
 * One strict engine, one long-lived process (mm) and, for a set time:
 *  - pinners: each owns a few pages of the mm; pin them (GUP-fast mostly,
 *    longterm sometimes), device write -> CPU load, CPU store -> device
 *    read, pinmm_check_mapped, unpin; the pages' bytes are shadowed, so any
 *    byte that changes behind the pinner's back is a break;
 *  - writers: each owns pages of a mergeable, hugepage region; whole-page
 *    fills from a few values (KSM food), loads checked against a shadow,
 *    DONTNEED (zero after), MADV_PAGEOUT;
 *  - forkers: fork the mm, write into the child's copies (the parent must not
 *    see it), pin R/O in the child, exit it; migrate / NUMA-hint / split
 *    PMDs of random addresses;
 *  - mixers: every public operation at random on regions of their own
 *    (bench/soak_mixer.h), pins of every kind held across them;
 *  - every daemon thread (ksmd, khugepaged, kcompactd, kswapd).
 * Every check_every seconds the workers pause at the top of their loop, the
 * daemons stop, pinmm_check_invariants() runs, and everything resumes. At
 * the end: every mm exits, invariants, zero frames, destroy reports no
 * leak. A "break" is any check that failed; the first few are kept.
 */
#ifndef PINMM_BENCH_SOAK_H
#define PINMM_BENCH_SOAK_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pinmm/pinmm.h>

#define SOAK_PG PINMM_PAGE_SIZE
enum { SOAK_MAX_THREADS = 16, SOAK_PIN_PAGES = 4, SOAK_WRITER_PAGES = 64,
       SOAK_KEEP = 8, SOAK_MIX_FILE_PAGES = 8, SOAK_MIX_OPS = 19 };
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

struct soak_cfg {
	double seconds;
	double check_every;	/* quiescent invariant checks, seconds */
	unsigned pinners, writers, forkers, mixers;
	unsigned daemon_interval_us;
	bool daemons;
	unsigned daemon_mask;	/* which daemons (bit = enum pinmm_daemon) */
	uint64_t seed;
	/* go on past `seconds` until every kind of mixer operation succeeded
	 * once, up to this many seconds in all (a slow sanitizer build) */
	double mix_ops_deadline;
};

static inline void soak_cfg_default(struct soak_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->seconds = 3;
	c->check_every = 0.5;
	c->pinners = 2;
	c->writers = 2;
	c->forkers = 1;
	c->mixers = 2;
	c->daemon_interval_us = 2000;
	c->daemons = true;
	c->daemon_mask = (1u << PINMM_DAEMON_NR) - 1;
	c->seed = 1;
}

struct soak_result {
	unsigned long ops, pins, stores, loads, forks, passes_checked,
		invariant_checks, breaks;
	bool leak;
	unsigned mix_ops_done;	/* kinds of mixer operation that succeeded at least once */
	double seconds;
	unsigned kept;
	char first[SOAK_KEEP][200];
};

struct soak {
	const struct soak_cfg *cfg;
	struct pinmm *eng;
	struct pinmm_mm *mm;
	uint64_t pin_base, writer_base;
	struct pinmm_file *mix_file;	/* the mixers' text and shared file */
	atomic_bool stop, pause;
	atomic_uint paused, running;
	atomic_ulong ops, pins, stores, loads, forks, breaks;
	atomic_ulong mix_done[SOAK_MIX_OPS];	/* successes per mixer operation */
	pthread_mutex_t lock;
	struct soak_result *res;
};

static inline double soak_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t soak_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void soak_break(struct soak *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void soak_break(struct soak *s, const char *fmt, ...)
{
	va_list ap;
	atomic_fetch_add(&s->breaks, 1);
	pthread_mutex_lock(&s->lock);
	if (s->res->kept < SOAK_KEEP) {
		va_start(ap, fmt);
		vsnprintf(s->res->first[s->res->kept++], sizeof(s->res->first[0]), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
}

/* the top of every worker loop: false when it is time to stop */
static inline bool soak_gate(struct soak *s)
{
	if (atomic_load(&s->pause)) {
		atomic_fetch_add(&s->paused, 1);
		while (atomic_load(&s->pause) && !atomic_load(&s->stop))
			usleep(100);
		atomic_fetch_sub(&s->paused, 1);
	}
	return !atomic_load(&s->stop);
}

struct soak_worker {
	struct soak *s;
	unsigned idx;
	uint64_t seed;
};

static void *soak_pinner(void *arg)
{
	struct soak_worker *wk = arg;
	struct soak *s = wk->s;
	uint64_t rs = wk->seed, base = s->pin_base + (uint64_t)wk->idx * SOAK_PIN_PAGES * SOAK_PG;
	uint8_t *shadow = calloc(SOAK_PIN_PAGES, SOAK_PG);
	struct pinmm_page *pages[SOAK_PIN_PAGES];
	struct pinmm_pin pin;

	memset(&pin, 0, sizeof(pin));
	if (!shadow)
		return NULL;
	if (pinmm_load(s->mm, base, shadow, SOAK_PIN_PAGES * SOAK_PG))
		soak_break(s, "pinner %u: initial load failed", wk->idx);
	while (soak_gate(s)) {
		uint64_t r = soak_rand(&rs);
		unsigned n = 1 + (unsigned)(r % SOAK_PIN_PAGES);
		unsigned first = (unsigned)((r >> 8) % (SOAK_PIN_PAGES - n + 1));
		uint64_t a = base + (uint64_t)first * SOAK_PG;
		unsigned flags = PINMM_FOLL_WRITE | ((r >> 16) % 8 == 0 ? PINMM_FOLL_LONGTERM : 0);
		bool fast = (r >> 20) % 4 != 0;
		int e = pinmm_pin(s->mm, &pin, a, n, flags, fast, pages);

		if (e == -ENOMEM && (flags & PINMM_FOLL_LONGTERM))
			continue;	/* a daemon held a page in place meanwhile */
		if (e) {
			soak_break(s, "pinner %u: pin of its own pages: %d", wk->idx, e);
			continue;
		}
		atomic_fetch_add(&s->pins, 1);
		for (unsigned k = 0; k < 4; k++) {
			unsigned pg = (unsigned)(soak_rand(&rs) % n);
			size_t off = (size_t)(soak_rand(&rs) % (SOAK_PG - 8));
			uint8_t b[8], got[8];
			uint64_t va = a + (uint64_t)pg * SOAK_PG + off;
			uint8_t *sh = shadow + (size_t)(first + pg) * SOAK_PG + off;

			for (int j = 0; j < 8; j++)
				b[j] = (uint8_t)soak_rand(&rs);
			/* what is there now is what the pinner last left */
			if (pinmm_load(s->mm, va, got, 8) || memcmp(got, sh, 8)) {
				soak_break(s, "pinner %u: 0x%llx changed behind its back "
					   "(holds %02x%02x%02x%02x, last left %02x%02x%02x%02x)",
					   wk->idx, (unsigned long long)va, got[0], got[1],
					   got[2], got[3], sh[0], sh[1], sh[2], sh[3]);
				/* count it once: take the page as it is now */
				uint64_t pa = a + (uint64_t)pg * SOAK_PG;
				(void)pinmm_load(s->mm, pa, sh - off, SOAK_PG);
			}
			if (pinmm_dev_write(&pin, pg, off, b, 4) ||
			    pinmm_load(s->mm, va, got, 4) || memcmp(got, b, 4))
				soak_break(s, "pinner %u: device write not seen by the CPU at 0x%llx",
					   wk->idx, (unsigned long long)va);
			if (pinmm_store(s->mm, va + 4, b + 4, 4) ||
			    pinmm_dev_read(&pin, pg, off + 4, got, 4) || memcmp(got, b + 4, 4))
				soak_break(s, "pinner %u: CPU store not seen by the device at 0x%llx",
					   wk->idx, (unsigned long long)va + 4);
			memcpy(sh, b, 8);
			atomic_fetch_add(&s->ops, 4);
		}
		if (!pinmm_check_mapped(&pin, s->mm, a))
			soak_break(s, "pinner %u: pinned pages not mapped at 0x%llx", wk->idx,
				   (unsigned long long)a);
		if (pinmm_unpin(&pin))
			soak_break(s, "pinner %u: unpin failed", wk->idx);
		atomic_fetch_add(&s->ops, 3);
	}
	free(shadow);
	return NULL;
}

static void *soak_writer(void *arg)
{
	struct soak_worker *wk = arg;
	struct soak *s = wk->s;
	uint64_t rs = wk->seed, base = s->writer_base + (uint64_t)wk->idx * SOAK_WRITER_PAGES * SOAK_PG;
	uint8_t expect[SOAK_WRITER_PAGES], buf[64];

	memset(expect, 0, sizeof(expect));
	while (soak_gate(s)) {
		uint64_t r = soak_rand(&rs);
		unsigned pg = (unsigned)(r % SOAK_WRITER_PAGES);
		uint64_t va = base + (uint64_t)pg * SOAK_PG;
		size_t off = (size_t)((r >> 8) % (SOAK_PG - sizeof(buf)));
		int e = 0;

		switch ((r >> 24) % 8) {
		case 0: case 1: case 2: {
			uint8_t v = (uint8_t)(0x11 * ((r >> 32) % 4));
			e = pinmm_store_fill(s->mm, va, v, SOAK_PG);
			if (!e)
				expect[pg] = v;
			atomic_fetch_add(&s->stores, 1);
			break;
		}
		case 3:
			e = pinmm_madvise(s->mm, va, SOAK_PG, PINMM_MADV_DONTNEED);
			if (!e)
				expect[pg] = 0;
			break;
		case 4:
			e = pinmm_madvise(s->mm, va, SOAK_PG, PINMM_MADV_PAGEOUT);
			break;
		default:
			e = pinmm_load(s->mm, va + off, buf, sizeof(buf));
			atomic_fetch_add(&s->loads, 1);
			for (size_t i = 0; !e && i < sizeof(buf); i++)
				if (buf[i] != expect[pg]) {
					soak_break(s, "writer %u: byte at 0x%llx is 0x%02x, wrote 0x%02x",
						   wk->idx, (unsigned long long)(va + off + i),
						   buf[i], expect[pg]);
					break;
				}
			break;
		}
		if (e) {
			struct pinmm_stats st;

			pinmm_get_stats(s->eng, &st);
			soak_break(s, "writer %u: operation %llu failed: %d (free frames: "
				   "normal %zu, movable %zu; %zu mms)", wk->idx,
				   (unsigned long long)((r >> 24) % 8), e,
				   st.frames_free[PINMM_ZONE_NORMAL],
				   st.frames_free[PINMM_ZONE_MOVABLE], st.nr_mms);
		}
		atomic_fetch_add(&s->ops, 1);
	}
	return NULL;
}

/* Has every kind of mixer operation succeeded at least once? */
static bool soak_mix_ops_all_done(struct soak *s)
{
	for (unsigned i = 0; i < SOAK_MIX_OPS; i++)
		if (!atomic_load(&s->mix_done[i]))
			return false;
	return true;
}

/* With hugetlb memory in the mm, fork's early copy of a pinned hugetlb
 * page fails with ENOMEM when the pool has no unreserved page, as Linux's
 * does; the pool's state at the failure cannot be read back race-free, so
 * any ENOMEM of fork counts as that once the mixers have a pool. */
static bool soak_has_hugetlb_pool(struct soak *s)
{
	struct pinmm_hugetlb_info i;

	return !pinmm_hugetlb_info(s->eng, &i) && i.total;
}

static void *soak_forker(void *arg)
{
	struct soak_worker *wk = arg;
	struct soak *s = wk->s;
	uint64_t rs = wk->seed;
	unsigned npin = s->cfg->pinners * SOAK_PIN_PAGES;
	unsigned nwr = s->cfg->writers * SOAK_WRITER_PAGES;

	while (soak_gate(s)) {
		uint64_t r = soak_rand(&rs);
		int e = 0;

		switch (r % 4) {
		case 0: {
			struct pinmm_mm *child = NULL;
			e = pinmm_fork(s->mm, &child);
			if (e == -ENOMEM && soak_has_hugetlb_pool(s))
				e = 0;	/* a pinned hugetlb page found no copy */
			if (e || !child)
				break;
			atomic_fetch_add(&s->forks, 1);
			/* the child's writes reach only its own copies */
			if (npin)
				(void)pinmm_store_fill(child, s->pin_base +
						       (soak_rand(&rs) % npin) * SOAK_PG, 0xC1, 64);
			if (nwr)
				(void)pinmm_store_fill(child, s->writer_base +
						       (soak_rand(&rs) % nwr) * SOAK_PG, 0xC2, SOAK_PG);
			if (npin) {
				struct pinmm_page *pg[1];
				struct pinmm_pin pin;
				memset(&pin, 0, sizeof(pin));
				if (pinmm_pin(child, &pin, s->pin_base + (soak_rand(&rs) % npin) * SOAK_PG,
					      1, 0, true, pg) == 0)
					(void)pinmm_unpin(&pin);
			}
			pinmm_mm_exit(child);
			break;
		}
		case 1:
			if (nwr)
				e = pinmm_migrate(s->mm, s->writer_base + (r >> 8) % nwr * SOAK_PG);
			if (e == -EBUSY || e == -EFAULT || e == -EAGAIN)
				e = 0;
			break;
		case 2:
			if (npin)
				e = pinmm_numa_hint(s->mm, s->pin_base + (r >> 8) % npin * SOAK_PG);
			if (e == -EFAULT)
				e = 0;
			break;
		default:
			if (nwr)
				e = pinmm_split_pmd(s->mm, s->writer_base + (r >> 8) % nwr * SOAK_PG);
			if (e == -EINVAL)
				e = 0;
			break;
		}
		if (e)
			soak_break(s, "forker %u: operation %llu failed: %d", wk->idx,
				   (unsigned long long)(r % 4), e);
		atomic_fetch_add(&s->ops, 1);
	}
	return NULL;
}

#include "soak_mixer.h"

static inline void soak_daemons(struct soak *s, bool on)
{
	if (!s->cfg->daemons)
		return;
	for (int d = 0; d < PINMM_DAEMON_NR; d++) {
		if (!(s->cfg->daemon_mask & (1u << d)))
			continue;
		if (on)
			(void)pinmm_daemon_start(s->eng, (enum pinmm_daemon)d,
						 s->cfg->daemon_interval_us * (unsigned)(d + 1));
		else
			(void)pinmm_daemon_stop(s->eng, (enum pinmm_daemon)d);
	}
}

static inline void soak_check(struct soak *s)
{
	struct pinmm_violation_report rep;
	memset(&rep, 0, sizeof(rep));
	s->res->invariant_checks++;
	if (pinmm_check_invariants(s->eng, &rep))
		soak_break(s, "invariants: %u violation(s), first: %s", rep.nr, rep.first);
}

/* Runs the soak; 0 when nothing broke and nothing leaked. */
static inline int soak_run(const struct soak_cfg *cfg, struct soak_result *res)
{
	struct soak s;
	struct pinmm_config pc;
	pthread_t th[SOAK_MAX_THREADS];
	struct soak_worker wk[SOAK_MAX_THREADS];
	unsigned nth = 0;
	double t0, next_check;
	uint64_t out = 0;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.res = res;
	pthread_mutex_init(&s.lock, NULL);
	pinmm_config_default(&pc);
	/* a machine booted with movablecore: longterm pins migrate first */
	pc.normal_frames = 4096;
	pc.movable_frames = 28672;
	if (pinmm_create(&pc, &s.eng) || pinmm_mm_create(s.eng, &s.mm))
		return -1;
	if (cfg->mixers &&
	    pinmm_file_create(s.eng, SOAK_MIX_FILE_PAGES * SOAK_PG, 0x90, &s.mix_file))
		return -1;
	/* the mixers' kinds of large memory: 16 and 64 KiB mTHPs in
	 * MADV_HUGEPAGE regions, and a hugetlb pool (4 of the 16 MiB) */
	if (cfg->mixers &&
	    (pinmm_thp_set_enabled(s.eng, 16 * 1024, PINMM_THP_MADVISE) ||
	     pinmm_thp_set_enabled(s.eng, 64 * 1024, PINMM_THP_MADVISE) ||
	     pinmm_hugetlb_set_pool(s.eng, 2)))
		return -1;
	/* pinners' pages: populated, in one plain mapping */
	if (cfg->pinners &&
	    pinmm_mmap(s.mm, 0, (uint64_t)cfg->pinners * SOAK_PIN_PAGES * SOAK_PG,
		       PINMM_PROT_READ | PINMM_PROT_WRITE,
		       PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE, &s.pin_base))
		return -1;
	/* writers' pages: a THP-able, mergeable region */
	if (cfg->writers) {
		uint64_t len = (uint64_t)cfg->writers * SOAK_WRITER_PAGES * SOAK_PG;
		len = (len + PINMM_PMD_SIZE - 1) & ~(uint64_t)(PINMM_PMD_SIZE - 1);
		if (pinmm_mmap(s.mm, 0, len, PINMM_PROT_READ | PINMM_PROT_WRITE,
			       PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_HUGEPAGE,
			       &s.writer_base) ||
		    pinmm_madvise(s.mm, s.writer_base, len, PINMM_MADV_MERGEABLE))
			return -1;
	}
	(void)out;
	soak_daemons(&s, true);
	unsigned counts[4] = { cfg->pinners, cfg->writers, cfg->forkers, cfg->mixers };
	void *(*fns[4])(void *) = { soak_pinner, soak_writer, soak_forker, soak_mixer };
	for (int kind = 0; kind < 4; kind++)
		for (unsigned i = 0; i < counts[kind] && nth < SOAK_MAX_THREADS; i++) {
			wk[nth] = (struct soak_worker){ &s, i, cfg->seed * 1000003u + nth };
			if (pthread_create(&th[nth], NULL, fns[kind], &wk[nth]))
				break;
			nth++;
		}
	t0 = soak_now();
	next_check = t0 + cfg->check_every;
	while (soak_now() - t0 < cfg->seconds ||
	       (soak_now() - t0 < cfg->mix_ops_deadline && !soak_mix_ops_all_done(&s))) {
		usleep(10000);
		if (soak_now() < next_check)
			continue;
		/* quiescent point: workers parked, daemons stopped */
		atomic_store(&s.pause, true);
		while (atomic_load(&s.paused) < nth)
			usleep(100);
		soak_daemons(&s, false);
		soak_check(&s);
		soak_daemons(&s, true);
		atomic_store(&s.pause, false);
		while (atomic_load(&s.paused) > 0)
			usleep(50);
		next_check = soak_now() + cfg->check_every;
	}
	atomic_store(&s.stop, true);
	for (unsigned i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	soak_daemons(&s, false);
	res->seconds = soak_now() - t0;
	soak_check(&s);
	pinmm_mm_exit(s.mm);
	pinmm_file_put(s.mix_file);
	soak_check(&s);
	struct pinmm_stats st;
	pinmm_get_stats(s.eng, &st);
	if (st.frames_used || st.nr_mms) {
		res->leak = true;
		soak_break(&s, "leak: %zu frames, %zu mms after everything exited",
			   st.frames_used, st.nr_mms);
	}
	if (pinmm_destroy(s.eng)) {
		res->leak = true;
		soak_break(&s, "pinmm_destroy reports a leak");
	}
	res->ops = atomic_load(&s.ops);
	res->pins = atomic_load(&s.pins);
	res->stores = atomic_load(&s.stores);
	res->loads = atomic_load(&s.loads);
	res->forks = atomic_load(&s.forks);
	res->breaks = atomic_load(&s.breaks);
	for (int i = 0; i < SOAK_MIX_OPS; i++)
		res->mix_ops_done += atomic_load(&s.mix_done[i]) > 0;
	pthread_mutex_destroy(&s.lock);
	return res->breaks || res->leak ? 1 : 0;
}

#endif
