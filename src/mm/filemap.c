/* SPDX-License-Identifier: MIT */
/*
 * Files and their page cache: the unnamed file behind shared anonymous
 * memory, and the in-memory files of file mappings. The file holds one
 * reference on each cached page; the file itself is held by its creator
 * and by each mapping, and by rmap walkers for the length of a walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/daemons.h>

#include "../mem/frame_io.h"
#include "mm.h"

struct pinmm_file *pm_file_alloc(struct pinmm *eng, uint64_t nr_pages)
{
	struct pinmm_file *f;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_VMA))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->cache = calloc(nr_pages ? nr_pages : 1, sizeof(*f->cache));
	if (!f->cache) {
		free(f);
		return NULL;
	}
	f->eng = eng;
	f->dom = eng->rcu_dom;
	f->nr_pages = nr_pages;
	atomic_store(&f->refcount, 1);
	pm_mutex_init(&f->lock);
	pm_list_init(&f->i_mmap);
	pm_mutex_lock(&eng->objects_lock);
	pm_list_add(&f->link, &eng->files);
	pm_mutex_unlock(&eng->objects_lock);
	return f;
}

void pm_file_get(struct pinmm_file *f)
{
	pm_access(&f->refcount, PM_ACC_WRITE);
	atomic_fetch_add(&f->refcount, 1);
}

/*
 * A reference only while the file is still alive. A walker that reached
 * the file through a cached page's mapping (it holds the page, not the
 * file) calls this under RCU: the last put may have run already, and only
 * the grace period keeps the object readable.
 */
bool pm_file_try_get(struct pinmm_file *f)
{
	pm_access(&f->refcount, PM_ACC_WRITE);
	long old = atomic_load(&f->refcount);

	do {
		if (old <= 0)
			return false;
	} while (!atomic_compare_exchange_weak(&f->refcount, &old, old + 1));
	return true;
}

static void file_free_cb(struct rcu_head *head)
{
	struct pinmm_file *f = container_of(head, struct pinmm_file, rcu);
	struct pm_rcu_domain *dom;

	pm_rcu_callback_begin(head);
	dom = f->dom;
	pm_mutex_destroy(&f->lock);
	free(f->cache);
	free(f);
	pm_rcu_domain_put(dom);
}

void pm_file_put(struct pinmm_file *f)
{
	struct pinmm *eng = f->eng;

	pm_access(&f->refcount, PM_ACC_WRITE);
	if (atomic_fetch_sub(&f->refcount, 1) != 1)
		return;
	pm_mutex_lock(&eng->objects_lock);
	pm_list_del(&f->link);
	pm_mutex_unlock(&eng->objects_lock);
	if (f->hugetlb)
		hugetlbfs_evict(f);
	/* truncate: each page leaves the cache (PG_pagecache cleared) before
	 * the object is queued for freeing, so a walker that still sees the
	 * flag inside its read section holds off the grace period */
	for (uint64_t i = 0; i < f->nr_pages; i++) {
		struct pinmm_page *p = f->cache[i];
		if (p) {
			page_clear(p, PG_pagecache);
			folio_put(p);
		}
	}
	pm_rcu_domain_get(f->dom);
	pm_call_rcu(&f->rcu, file_free_cb);
}

/* The cached page at index, created (zeroed) on first use; file->lock held. */
static struct pinmm_page *filemap_lookup_locked(struct pinmm_file *f, uint64_t index)
{
	struct pinmm_page *p = f->cache[index];

	if (!p) {
		p = pm_alloc_folio(f->eng, 0, PM_GFP_MOVABLE | PM_GFP_ZERO);
		if (p) {
			set_folio_mapping(p, f);
			p->index = index;
			page_set(p, PG_pagecache);
			f->cache[index] = p;	/* the cache's reference */
		}
	}
	return p;
}

struct pinmm_page *filemap_get_page(struct pinmm *eng, struct pinmm_file *f,
				    uint64_t index)
{
	struct pinmm_page *p;

	(void)eng;
	if (index >= f->nr_pages)
		return NULL;
	pm_mutex_lock(&f->lock);
	p = filemap_lookup_locked(f, index);
	if (p)
		folio_get(p);
	pm_mutex_unlock(&f->lock);
	return p;
}

/* ---------------------------------------------------- public file API --- */

int pinmm_file_create(struct pinmm *eng, uint64_t size, uint8_t fill,
		      struct pinmm_file **out)
{
	return pinmm_file_create_kind(eng, size, fill, PINMM_FILE_SHMEM, out);
}

int pinmm_file_create_kind(struct pinmm *eng, uint64_t size, uint8_t fill,
			   enum pinmm_file_kind kind, struct pinmm_file **out)
{
	struct pinmm_file *f;
	uint64_t nr = ALIGN_UP(size, PINMM_PAGE_SIZE) >> PINMM_PAGE_SHIFT;

	if (!eng || !out || !size || size > (1ull << 40) ||
	    (kind != PINMM_FILE_SHMEM && kind != PINMM_FILE_DISK &&
	     kind != PINMM_FILE_HUGETLB))
		return -EINVAL;
	*out = NULL;
	if (kind == PINMM_FILE_HUGETLB) {
		/* memfd_create(MFD_HUGETLB), ftruncate, fallocate */
		int err = hugetlbfs_file_setup(eng, size, &f);

		if (!err && (err = hugetlbfs_fallocate(f, fill)))
			pm_file_put(f);
		if (!err)
			*out = f;
		return err;
	}
	f = pm_file_alloc(eng, nr);
	if (!f)
		return -ENOMEM;
	f->dirty_tracked = kind == PINMM_FILE_DISK;
	/* the contents live in the page cache from the start */
	for (uint64_t i = 0; i < nr; i++) {
		struct pinmm_page *p = filemap_lookup_locked(f, i);

		if (!p) {
			pm_file_put(f);
			return -ENOMEM;
		}
		frame_fill(eng_page_virt(eng, p), fill, PINMM_PAGE_SIZE);
	}
	*out = f;
	return 0;
}

void pinmm_file_put(struct pinmm_file *file)
{
	if (file)
		pm_file_put(file);
}

static int file_io(struct pinmm_file *f, uint64_t off, void *buf, size_t len, bool write)
{
	uint8_t *b = buf;

	if (!f || (!buf && len) || off + len < off ||
	    off + len > f->nr_pages * PINMM_PAGE_SIZE)
		return -EINVAL;
	if (f->hugetlb)	/* hugetlbfs has no write(2) */
		return write ? -EINVAL : hugetlbfs_read(f, off, buf, len);
	pm_mutex_lock(&f->lock);
	while (len) {
		size_t chunk = MIN(len, PINMM_PAGE_SIZE - (off & (PINMM_PAGE_SIZE - 1)));
		struct pinmm_page *p = filemap_lookup_locked(f, off >> PINMM_PAGE_SHIFT);
		uint8_t *frame;

		if (!p) {
			pm_mutex_unlock(&f->lock);
			return -ENOMEM;
		}
		frame = eng_page_virt(f->eng, p) + (off & (PINMM_PAGE_SIZE - 1));
		if (write) {
			frame_copy_to(frame, b, chunk);
			page_set(p, PG_dirty);
		} else {
			frame_copy_from(b, frame, chunk);
		}
		off += chunk;
		b += chunk;
		len -= chunk;
	}
	pm_mutex_unlock(&f->lock);
	return 0;
}

int pinmm_file_read(struct pinmm_file *f, uint64_t off, void *buf, size_t len)
{
	return file_io(f, off, buf, len, false);
}

int pinmm_file_write(struct pinmm_file *f, uint64_t off, const void *buf, size_t len)
{
	return file_io(f, off, (void *)buf, len, true);
}

/* Write-protect the shared mappings of cached page index, collecting
 * their dirty bits; f->lock held. */
static bool mkclean_page(struct pinmm *eng, struct pinmm_file *f, uint64_t index,
			 struct pinmm_page *page)
{
	struct pm_list *pos;
	bool dirty = false;

	pm_list_for_each(pos, &f->i_mmap) {
		struct vm_area *vma = container_of(pos, struct vm_area, file_link);
		uint64_t addr = vma->flags & VM_SHARED ? vma_address(vma, index, 1) : 0;

		if (!addr)
			continue;
		struct pt_table *pte = pte_table_lock(vma->mm, addr);
		if (!pte)
			continue;
		unsigned i = pt_index(addr, PT_LEVEL_PTE);
		pte_t e = pt_read(pte, i);
		if (pte_present(e) && pte_pfn(e) == eng_page_pfn(eng, page)) {
			dirty |= (e & PTE_DIRTY) != 0;
			if (e & (PTE_WRITE | PTE_DIRTY))
				pt_clear_bits(pte, i, PTE_WRITE | PTE_DIRTY);
		}
		pm_mutex_unlock(&pte->ptl);
	}
	return dirty;
}

/*
 * Writeback of a file that tracks dirty pages (folio_mkclean() and
 * folio_clear_dirty_for_io()): each dirty page's shared mappings become
 * read-only and clean, the page clean; the pages stay where they are, so
 * a pin keeps seeing what the process writes (the next store faults the
 * write permission back on the same page).
 */
long pinmm_file_writeback(struct pinmm_file *f)
{
	long written = 0;

	if (!f)
		return -EINVAL;
	if (!f->dirty_tracked)
		return 0;
	pm_mutex_lock(&f->lock);
	for (uint64_t i = 0; i < f->nr_pages; i++) {
		struct pinmm_page *p = f->cache[i];

		if (!p)
			continue;
		bool dirty = mkclean_page(f->eng, f, i, p) | page_test(p, PG_dirty);
		if (dirty) {
			page_clear(p, PG_dirty);
			written++;
		}
	}
	pm_mutex_unlock(&f->lock);
	return written;
}
