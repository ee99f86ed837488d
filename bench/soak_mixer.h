/* SPDX-License-Identifier: MIT */
/*
 * bench/soak_mixer.h - the soak's mixers: threads that call every public
 * operation at random on regions of their own (anonymous private and
 * shared, THP-able, private text and shared mappings of one file every
 * mixer uses), so that operations meet that no other worker mixes: mmap,
 * munmap, mremap, mprotect, every madvise advice, CPU access and forced
 * writes, pins and references of every kind held across other operations,
 * fork and exit, every daemon pass called directly, folio and PMD splits,
 * migration, uprobes on the shared file, file reads and writes.
 *
 * A mixer checks no bytes (its own operations end the guarantee often:
 * munmap, DONTNEED over a pin); it checks that every call answers one of
 * the errors the contract allows, and the soak's quiescent invariant
 * checks and the sanitizers do the rest. Included by soak.h only.
 */
#ifndef PINMM_BENCH_SOAK_MIXER_H
#define PINMM_BENCH_SOAK_MIXER_H

enum { MIX_REGIONS = 6, MIX_PINS = 3, MIX_MAX_PAGES = 24 };

struct mix_region {
	uint64_t addr, len;	/* len 0: free slot */
};

struct mix_pin {
	struct pinmm_pin h;
	struct pinmm_page *pages[4];
	bool held;
};

struct mixer {
	struct soak *s;
	struct soak_worker *wk;
	uint64_t rs;
	struct mix_region reg[MIX_REGIONS];
	struct mix_pin pin[MIX_PINS];
};

/* Errors the contract allows a call made blindly (any region, any state). */
static inline bool mix_err_ok(int e)
{
	return e == 0 || e == -EFAULT || e == -EACCES || e == -EAGAIN || e == -EBUSY ||
	       e == -ENOMEM || e == -EINVAL || e == -EPERM || e == -EEXIST;
}

static inline uint64_t mix_pick(struct mixer *m, uint64_t n)
{
	return n ? soak_rand(&m->rs) % n : 0;
}

/* A random mapped region (its slot), or -1. */
static inline int mix_region(struct mixer *m)
{
	int start = (int)mix_pick(m, MIX_REGIONS);

	for (int i = 0; i < MIX_REGIONS; i++) {
		int k = (start + i) % MIX_REGIONS;
		if (m->reg[k].len)
			return k;
	}
	return -1;
}

/* A page-aligned address inside a region: never outside it, where other
 * workers' pages (and their shadows) live. */
static inline uint64_t mix_addr(struct mixer *m, int k)
{
	return m->reg[k].addr + mix_pick(m, m->reg[k].len / SOAK_PG) * SOAK_PG;
}

/* How many pages from a to the region's end. */
static inline unsigned mix_room(const struct mixer *m, int k, uint64_t a)
{
	return (unsigned)((m->reg[k].addr + m->reg[k].len - a) / SOAK_PG);
}

static int mix_map(struct mixer *m)
{
	struct soak *s = m->s;
	int k = -1;
	uint64_t a = 0, len = (1 + mix_pick(m, MIX_MAX_PAGES)) * SOAK_PG;
	unsigned prot = PINMM_PROT_READ | PINMM_PROT_WRITE, flags;
	int e;

	for (int i = 0; i < MIX_REGIONS; i++)
		if (!m->reg[i].len)
			k = i;
	if (k < 0)
		return 0;
	switch (mix_pick(m, 7)) {
	case 5:	/* mTHPs (16 or 64 KiB folios) in a MADV_HUGEPAGE region */
		len = (1 + mix_pick(m, 4)) * 64 * 1024;
		e = pinmm_mmap(s->mm, 0, len, prot,
			       PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE |
			       (mix_pick(m, 2) ? PINMM_MAP_POPULATE : 0), &a);
		break;
	case 6:	/* a hugetlb page from the pool, private or shared (an unnamed
		 * hugetlb file); ENOMEM when it is empty */
		len = PINMM_PMD_SIZE;
		e = pinmm_mmap(s->mm, 0, len, prot,
			       (mix_pick(m, 2) ? PINMM_MAP_SHARED : PINMM_MAP_PRIVATE) |
			       PINMM_MAP_HUGETLB, &a);
		break;
	case 0:	/* a THP-able 2 MiB region */
		len = PINMM_PMD_SIZE;
		flags = PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_HUGEPAGE;
		if (mix_pick(m, 2))
			flags |= PINMM_MAP_POPULATE;
		e = pinmm_mmap(s->mm, 0, len, prot, flags, &a);
		break;
	case 1:	/* shared anonymous */
		e = pinmm_mmap(s->mm, 0, len, prot, PINMM_MAP_SHARED | PINMM_MAP_POPULATE, &a);
		break;
	case 2:	/* the shared file, as text (uprobes' target) or shared */
		len = MIN(len, SOAK_MIX_FILE_PAGES * SOAK_PG);
		if (mix_pick(m, 2))
			e = pinmm_mmap_file(s->mm, 0, len, PINMM_PROT_READ | PINMM_PROT_EXEC,
					    PINMM_MAP_PRIVATE, s->mix_file, 0, &a);
		else
			e = pinmm_mmap_file(s->mm, 0, len, prot, PINMM_MAP_SHARED, s->mix_file,
					    mix_pick(m, 2) * SOAK_PG, &a);
		break;
	default:
		e = pinmm_mmap(s->mm, 0, len, prot,
			       PINMM_MAP_PRIVATE | (mix_pick(m, 2) ? PINMM_MAP_POPULATE : 0), &a);
		break;
	}
	if (!e)
		m->reg[k] = (struct mix_region){ a, len };
	return e;
}

static int mix_unmap(struct mixer *m, int k)
{
	int e;

	if (mix_pick(m, 2)) {
		e = pinmm_munmap(m->s->mm, m->reg[k].addr, m->reg[k].len);
		m->reg[k].len = 0;
		return e;
	}
	/* the tail only: the region shrinks */
	uint64_t keep = mix_pick(m, m->reg[k].len / SOAK_PG) * SOAK_PG;
	if (!keep)
		return 0;
	e = pinmm_munmap(m->s->mm, m->reg[k].addr + keep, m->reg[k].len - keep);
	m->reg[k].len = keep;
	return e;
}

static int mix_mremap(struct mixer *m, int k)
{
	uint64_t len = (1 + mix_pick(m, MIX_MAX_PAGES)) * SOAK_PG, to = 0;
	int e = pinmm_mremap(m->s->mm, m->reg[k].addr, m->reg[k].len, len,
			     PINMM_MREMAP_MAYMOVE, 0, &to);

	if (!e)
		m->reg[k] = (struct mix_region){ to, len };
	return e;
}

static int mix_pin(struct mixer *m, int k)
{
	struct mix_pin *p = &m->pin[mix_pick(m, MIX_PINS)];
	uint64_t r = soak_rand(&m->rs);
	int e;

	if (p->held) {
		/* release it, having used it once more */
		uint8_t b[16];
		(void)pinmm_dev_read(&p->h, 0, (size_t)(r % 4000), b, sizeof(b));
		e = p->h.kind == PINMM_PIN_GET ? pinmm_put(&p->h) : pinmm_unpin(&p->h);
		p->held = false;
		return e;
	}
	uint64_t a = mix_addr(m, k);
	unsigned n = 1 + (unsigned)(r % MIN(4, mix_room(m, k, a)));
	unsigned flags = ((r >> 8) & 1 ? PINMM_FOLL_WRITE : 0) |
			 ((r >> 9) % 4 == 0 ? PINMM_FOLL_LONGTERM : 0) |
			 ((r >> 11) % 8 == 0 ? PINMM_FOLL_FORCE : 0);
	bool fast = (r >> 14) & 1, get = (r >> 15) % 4 == 0;

	memset(&p->h, 0, sizeof(p->h));
	if (get)
		e = pinmm_get(m->s->mm, &p->h, a, n, flags & ~PINMM_FOLL_LONGTERM, fast, p->pages);
	else
		e = pinmm_pin(m->s->mm, &p->h, a, n, flags, fast, p->pages);
	if (e)
		return e;
	p->held = true;
	atomic_fetch_add(&m->s->pins, 1);
	if (flags & PINMM_FOLL_WRITE)
		return pinmm_dev_fill(&p->h, 0, (size_t)((r >> 16) % 4000), (uint8_t)r, 64);
	return 0;
}

static int mix_fork(struct mixer *m, int k)
{
	struct pinmm_mm *child = NULL;
	int e = pinmm_fork(m->s->mm, &child);

	if (e)
		return e;
	atomic_fetch_add(&m->s->forks, 1);
	if (k >= 0) {
		(void)pinmm_store_fill(child, mix_addr(m, k), 0xC3, 1);
		if (mix_pick(m, 2))
			(void)pinmm_madvise(child, m->reg[k].addr, m->reg[k].len,
					    PINMM_MADV_DONTNEED);
	}
	pinmm_mm_exit(child);
	return 0;
}

static const enum pinmm_advice mix_advice[] = {
	PINMM_MADV_DONTNEED, PINMM_MADV_FREE, PINMM_MADV_DONTFORK, PINMM_MADV_DOFORK,
	PINMM_MADV_MERGEABLE, PINMM_MADV_UNMERGEABLE, PINMM_MADV_HUGEPAGE,
	PINMM_MADV_NOHUGEPAGE, PINMM_MADV_COLLAPSE, PINMM_MADV_PAGEOUT,
};
static const unsigned mix_prot[] = {
	PINMM_PROT_NONE, PINMM_PROT_READ, PINMM_PROT_READ | PINMM_PROT_WRITE,
};

/* One random operation (*op says which, 0..SOAK_MIX_OPS-1); its errno. */
static int mix_step(struct mixer *m, unsigned *op)
{
	struct soak *s = m->s;
	int k = mix_region(m);
	uint64_t r = soak_rand(&m->rs);
	uint8_t b[32];

	*op = k < 0 ? 0 : (unsigned)(r % SOAK_MIX_OPS);
	if (k < 0)
		return mix_map(m);
	uint64_t a = mix_addr(m, k), len = m->reg[k].len;
	switch (*op) {
	case 0: return mix_map(m);
	case 1: return mix_unmap(m, k);
	case 2: return mix_mremap(m, k);
	case 3: return pinmm_mprotect(s->mm, m->reg[k].addr, len, mix_prot[(r >> 8) % 3]);
	case 4: return pinmm_madvise(s->mm, m->reg[k].addr, len,
				     mix_advice[(r >> 8) % ARRAY_SIZE(mix_advice)]);
	case 5: atomic_fetch_add(&s->stores, 1);
		return pinmm_store_fill(s->mm, a, (uint8_t)(r >> 8), 1 + (r >> 16) % 64);
	case 6: atomic_fetch_add(&s->loads, 1);
		return pinmm_load(s->mm, a, b, sizeof(b));
	case 7: {
		long n = pinmm_access_remote(s->mm, a, b, sizeof(b),
					     PINMM_FOLL_FORCE | ((r >> 8) & 1 ? PINMM_FOLL_WRITE : 0));
		return n < 0 ? (int)n : 0;
	}
	case 8: case 9: return mix_pin(m, k);
	case 10: return mix_fork(m, k);
	case 11: return pinmm_ksm_scan(s->eng, 1) < 0 ? -EIO : 0;
	case 12: return pinmm_khugepaged_scan(s->eng, 1) < 0 ? -EIO : 0;
	case 13: return pinmm_compact(s->eng) < 0 ? -EIO : 0;
	case 14: return pinmm_reclaim(s->eng, 32) < 0 ? -EIO : 0;
	case 15: return (r >> 8) & 1 ? pinmm_migrate(s->mm, a) : pinmm_numa_hint(s->mm, a);
	case 16: return (r >> 8) & 1 ? pinmm_split_pmd(s->mm, a) : pinmm_split_folio(s->mm, a);
	case 17: {
		uint64_t off = ((r >> 8) % SOAK_MIX_FILE_PAGES) * SOAK_PG + (r >> 20) % 64;
		return (r >> 16) & 1 ? pinmm_uprobe_register(s->mix_file, off)
				     : pinmm_uprobe_unregister(s->mix_file, off);
	}
	case 18:
		memset(b, (int)(r >> 8), sizeof(b));
		return (r >> 16) & 1
			? pinmm_file_write(s->mix_file, (r >> 20) % (SOAK_MIX_FILE_PAGES * SOAK_PG - 32),
					   b, sizeof(b))
			: pinmm_file_read(s->mix_file, (r >> 20) % (SOAK_MIX_FILE_PAGES * SOAK_PG - 32),
					  b, sizeof(b));
	default:
		return -EIO;	/* unreachable: SOAK_MIX_OPS cases */
	}
}

static void *soak_mixer(void *arg)
{
	struct soak_worker *wk = arg;
	struct mixer m = { .s = wk->s, .wk = wk, .rs = wk->seed };

	while (soak_gate(m.s)) {
		uint64_t before = m.rs;
		unsigned op;
		int e = mix_step(&m, &op);

		if (!e)
			atomic_fetch_add(&m.s->mix_done[op], 1);
		if (!mix_err_ok(e))
			soak_break(m.s, "mixer %u: step (seed state %llu) answered %d", wk->idx,
				   (unsigned long long)before, e);
		atomic_fetch_add(&m.s->ops, 1);
	}
	/* pins are released before the mm goes: the soak counts leaks */
	for (int i = 0; i < MIX_PINS; i++)
		if (m.pin[i].held)
			(void)(m.pin[i].h.kind == PINMM_PIN_GET ? pinmm_put(&m.pin[i].h)
								 : pinmm_unpin(&m.pin[i].h));
	return NULL;
}

#endif
