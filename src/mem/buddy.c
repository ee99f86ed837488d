/* SPDX-License-Identifier: MIT */
/*
 * The frame arena and the buddy allocator, one per zone.
 *
 * Zones start at a multiple of 2^PM_MAX_ORDER frames, so a block's buddy is
 * found by flipping one bit of its offset in the zone. Free blocks carry
 * PG_buddy and their order in the head descriptor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include "../engine.h"
#include "mem.h"

static void free_list_add(struct pm_zone *z, struct pinmm_page *p, unsigned order)
{
	set_page_order(p, order);
	pm_access(&p->flags, PM_ACC_WRITE);
	atomic_store(&p->flags, 1u << PG_buddy);
	p->prev = NULL;
	p->next = z->free_list[order];
	if (p->next)
		p->next->prev = p;
	z->free_list[order] = p;
}

static void free_list_del(struct pm_zone *z, struct pinmm_page *p, unsigned order)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		z->free_list[order] = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	page_clear(p, PG_buddy);
}

/* The descriptor block: PM_DESC_BLOCK-aligned, engine pointer first. */
static int desc_block_map(struct pm_mem *mem, struct pinmm *eng)
{
	size_t bytes = 64 + mem->nr_frames * sizeof(struct pinmm_page);
	/* reserve twice the alignment, keep the aligned part: address space
	 * only, the kernel backs what is touched */
	size_t len = 2 * PM_DESC_BLOCK;
	uint8_t *m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uint8_t *block;

	if (m == MAP_FAILED)
		return -ENOMEM;
	block = (uint8_t *)ALIGN_UP((uintptr_t)m, PM_DESC_BLOCK);
	if (mprotect(block, ALIGN_UP(bytes, PINMM_PAGE_SIZE), PROT_READ | PROT_WRITE)) {
		munmap(m, len);
		return -ENOMEM;
	}
	mem->desc_map = m;
	mem->desc_map_bytes = len;
	*(struct pinmm **)block = eng;
	mem->pages = (struct pinmm_page *)(block + 64);
	return 0;
}

/*
 * The memory of the last engine destroyed, kept for the next one of the
 * same size: an explorer creates an engine per execution, and mapping and
 * first-touching a fresh arena was a third of each. The frames need no
 * clearing (a folio is zeroed when allocated with PM_GFP_ZERO, as the
 * kernel's pages are); the descriptors are cleared.
 */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pm_mem spare;

static bool take_spare(struct pm_mem *mem, struct pinmm *eng)
{
	bool ok = false;

	pthread_mutex_lock(&spare_lock);
	if (spare.arena && spare.nr_frames == mem->nr_frames) {
		mem->arena = spare.arena;
		mem->desc_map = spare.desc_map;
		mem->desc_map_bytes = spare.desc_map_bytes;
		mem->pages = spare.pages;
		memset(&spare, 0, sizeof(spare));
		ok = true;
	}
	pthread_mutex_unlock(&spare_lock);
	if (ok) {
		memset(mem->pages, 0, mem->nr_frames * sizeof(*mem->pages));
		*(struct pinmm **)((uint8_t *)mem->pages - 64) = eng;
	}
	return ok;
}

/* Keep mem as the spare, or unmap it when there is one already. */
static void put_spare(struct pm_mem *mem)
{
	struct pm_mem old = { 0 };

	pthread_mutex_lock(&spare_lock);
	if (spare.arena)
		old = spare;
	spare = *mem;
	pthread_mutex_unlock(&spare_lock);
	if (old.desc_map)
		munmap(old.desc_map, old.desc_map_bytes);
	if (old.arena)
		munmap(old.arena, old.arena_bytes);
}

int pm_mem_init(struct pm_mem *mem, struct pinmm *eng, size_t normal_frames,
		size_t movable_frames)
{
	const size_t block = 1ul << PM_MAX_ORDER;
	size_t nr, arena, desc;

	memset(mem, 0, sizeof(*mem));
	/* sizes come from the caller: none may wrap (a wrapped sum made a
	 * small arena with zones past its end) */
	if (!normal_frames || normal_frames % block || movable_frames % block ||
	    __builtin_add_overflow(normal_frames, movable_frames, &nr) ||
	    nr > PM_MAX_FRAMES ||
	    __builtin_mul_overflow(nr, (size_t)PINMM_PAGE_SIZE, &arena) ||
	    __builtin_mul_overflow(nr, sizeof(struct pinmm_page), &desc))
		return -EINVAL;
	mem->nr_frames = nr;
	mem->arena_bytes = arena;
	if (!take_spare(mem, eng)) {
		/* reserve the whole arena once; the kernel backs it on first touch */
		mem->arena = mmap(NULL, mem->arena_bytes, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (mem->arena == MAP_FAILED) {
			mem->arena = NULL;
			return -ENOMEM;
		}
		if (desc_block_map(mem, eng)) {
			munmap(mem->arena, mem->arena_bytes);
			mem->arena = NULL;
			return -ENOMEM;
		}
	}
	mem->zones[PINMM_ZONE_NORMAL].start_pfn = 0;
	mem->zones[PINMM_ZONE_NORMAL].end_pfn = normal_frames;
	mem->zones[PINMM_ZONE_MOVABLE].start_pfn = normal_frames;
	mem->zones[PINMM_ZONE_MOVABLE].end_pfn = mem->nr_frames;
	for (int zi = 0; zi < PINMM_ZONE_NR; zi++) {
		struct pm_zone *z = &mem->zones[zi];

		pm_mutex_init(&z->lock);
		for (uint64_t pfn = z->start_pfn; pfn < z->end_pfn; pfn++)
			mem->pages[pfn].zone = (uint8_t)zi;
		for (uint64_t pfn = z->start_pfn; pfn < z->end_pfn; pfn += block)
			free_list_add(z, &mem->pages[pfn], PM_MAX_ORDER);
		z->nr_free = z->end_pfn - z->start_pfn;
	}
	return 0;
}

void pm_mem_destroy(struct pm_mem *mem)
{
	for (int zi = 0; zi < PINMM_ZONE_NR; zi++)
		pm_mutex_destroy(&mem->zones[zi].lock);
	if (mem->arena && mem->desc_map)
		put_spare(mem);
	memset(mem, 0, sizeof(*mem));
}

static struct pinmm_page *zone_alloc(struct pm_mem *mem, struct pm_zone *z,
				     unsigned order)
{
	struct pinmm_page *p = NULL;
	unsigned o;

	pm_mutex_lock(&z->lock);
	for (o = order; o <= PM_MAX_ORDER; o++) {
		if (z->free_list[o]) {
			p = z->free_list[o];
			free_list_del(z, p, o);
			break;
		}
	}
	if (p) {
		/* give back the upper halves until the block is the size asked */
		while (o > order) {
			o--;
			free_list_add(z, p + (1ul << o), o);
		}
		z->nr_free -= 1ul << order;
		/*
		 * Set the descriptors up under the zone lock: whoever freed the
		 * frame last set it down under the same lock, so their writes and
		 * ours are ordered (the refcount stays 0 until the caller
		 * publishes it).
		 */
		for (unsigned long i = 0; i < (1ul << order); i++) {
			struct pinmm_page *t = p + i;

			/* relaxed: the zone lock orders these, and the caller
			 * publishes the folio (seq_cst stores cost a locked
			 * exchange each: 2560 for a THP) */
			set_page_flags(t, i ? (1u << PG_tail) : (order ? 1u << PG_head : 0));
			set_page_head_off(t, (unsigned)i);
			set_page_order(t, i ? 0 : order);
			pm_access(&t->mapcount, PM_ACC_WRITE);
			pm_access(&t->refcount, PM_ACC_WRITE);
			pm_access(&t->pincount, PM_ACC_WRITE);
			pm_access(&t->entire_mapcount, PM_ACC_WRITE);
			atomic_store_explicit(&t->mapcount, 0, memory_order_relaxed);
			atomic_store_explicit(&t->refcount, 0, memory_order_relaxed);
			atomic_store_explicit(&t->pincount, 0, memory_order_relaxed);
			atomic_store_explicit(&t->entire_mapcount, 0, memory_order_relaxed);
			set_folio_mapping(t, NULL);
			t->index = 0;
			t->private = 0;
		}
	}
	pm_mutex_unlock(&z->lock);
	(void)mem;
	return p;
}

struct pinmm_page *pm_alloc_folio(struct pinmm *eng, unsigned order,
				  unsigned gfp)
{
	struct pm_mem *mem = &eng->mem;
	struct pinmm_page *p = NULL;

	if (order > PM_MAX_ORDER)
		return NULL;
	if (!(gfp & PM_GFP_NOINJECT) && pm_should_fail_alloc(eng, PINMM_ALLOC_FRAME))
		return NULL;
	if (gfp & PM_GFP_MOVABLE)
		p = zone_alloc(mem, &mem->zones[PINMM_ZONE_MOVABLE], order);
	if (!p)
		p = zone_alloc(mem, &mem->zones[PINMM_ZONE_NORMAL], order);
	if (!p)
		return NULL;

	unsigned long nr = 1ul << order;
	if (gfp & PM_GFP_ZERO)
		memset(pm_pfn_to_virt(mem, pm_page_to_pfn(mem, p)), 0,
		       nr << PINMM_PAGE_SHIFT);
	/*
	 * Publish the reference last: a GUP-fast walker holding a stale pfn
	 * may be spinning in folio_try_get() on this descriptor; it must not
	 * see a non-zero count before the descriptor is set up. It then fails
	 * its entry recheck and drops the reference again.
	 */
	pm_access(&p->refcount, PM_ACC_WRITE);
	atomic_store(&p->refcount, 1);
	return p;
}

void pm_free_folio(struct pinmm_page *folio)
{
	struct pinmm *eng = pm_page_engine(folio);
	struct pm_mem *mem = &eng->mem;
	struct pm_zone *z = &mem->zones[folio->zone];
	unsigned order = folio_order(folio);
	uint64_t pfn = pm_page_to_pfn(mem, folio);
	unsigned long nr = 1ul << order;

	pm_mutex_lock(&z->lock);
	/* set down under the zone lock, as zone_alloc() sets up */
	for (unsigned long i = 0; i < nr; i++) {
		set_page_flags(&folio[i], 0);
		set_page_head_off(&folio[i], 0);
		set_folio_mapping(&folio[i], NULL);
	}
	z->nr_free += nr;
	while (order < PM_MAX_ORDER) {
		uint64_t off = pfn - z->start_pfn;
		uint64_t buddy_pfn = z->start_pfn + (off ^ (1ul << order));
		struct pinmm_page *b = &mem->pages[buddy_pfn];

		if (buddy_pfn >= z->end_pfn || !page_test(b, PG_buddy) ||
		    folio_order(b) != order)
			break;
		free_list_del(z, b, order);
		pfn = MIN(pfn, buddy_pfn);
		order++;
	}
	free_list_add(z, &mem->pages[pfn], order);
	pm_mutex_unlock(&z->lock);
}

size_t pm_zone_nr_free(struct pm_zone *z)
{
	pm_mutex_lock(&z->lock);
	size_t n = z->nr_free;
	pm_mutex_unlock(&z->lock);
	return n;
}
