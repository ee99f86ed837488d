/* SPDX-License-Identifier: MIT */
/*
 * hugetlb files: a memfd made with MFD_HUGETLB (hugetlbfs), and the unnamed
 * file behind MAP_SHARED|MAP_HUGETLB. Their page cache holds 2 MiB pages
 * of the pool, one entry per huge page at the index of its first 4 KiB
 * page, shared by every mapping of the file.
 *
 * Reservations of shared mappings belong to the file (the inode's
 * resv_map): mmap reserves the huge pages of its range the file has not
 * reserved yet, or fails with ENOMEM; a page allocated into the cache
 * consumes its index's reservation, or - fallocate, or an index nobody
 * reserved - takes a page nobody reserved and marks the index. The
 * reservations no page consumed go back when the file goes (Linux's
 * hugetlb_unreserve_pages() at eviction), not at munmap. The map may reach
 * past the end of the file (a mapping longer than the file reserves its
 * whole range), and a writable mapping makes the file as long as itself
 * (hugetlbfs_file_mmap()'s i_size_write()).
 */
#include <errno.h>
#include <stdlib.h>

#include "../mem/frame_io.h"
#include "mm.h"

/* huge pages of the file */
static uint64_t file_hpages(const struct pinmm_file *f)
{
	return f->nr_pages >> PINMM_HPAGE_ORDER;
}

/* Room in the reservation map for huge index k - 1; f->lock held. */
static int hresv_grow(struct pinmm_file *f, uint64_t k)
{
	uint8_t *m;

	if (k <= f->hresv_nr)
		return 0;
	m = realloc(f->hresv, k);
	if (!m)
		return -ENOMEM;
	memset(m + f->hresv_nr, 0, k - f->hresv_nr);
	f->hresv = m;
	f->hresv_nr = k;
	return 0;
}

int hugetlbfs_file_setup(struct pinmm *eng, uint64_t size, struct pinmm_file **out)
{
	struct pinmm_file *f;

	/* hugetlbfs_setattr(): the size is whole huge pages */
	if (!size || !IS_ALIGNED(size, PINMM_PMD_SIZE))
		return -EINVAL;
	f = pm_file_alloc(eng, size >> PINMM_PAGE_SHIFT);
	if (!f)
		return -ENOMEM;
	f->hugetlb = true;
	if (hresv_grow(f, file_hpages(f))) {
		pm_file_put(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

int hugetlbfs_extend(struct pinmm_file *f, uint64_t nr_pages)
{
	struct pinmm_page **c;
	int err = 0;

	pm_mutex_lock(&f->lock);
	if (nr_pages <= f->nr_pages)
		goto out;
	err = hresv_grow(f, nr_pages >> PINMM_HPAGE_ORDER);
	c = err ? NULL : realloc(f->cache, nr_pages * sizeof(*c));
	if (!c) {
		err = -ENOMEM;
		goto out;
	}
	memset(c + f->nr_pages, 0, (nr_pages - f->nr_pages) * sizeof(*c));
	f->cache = c;
	f->nr_pages = nr_pages;
out:
	pm_mutex_unlock(&f->lock);
	return err;
}

int hugetlb_reserve_file(struct pinmm_file *f, uint64_t from, uint64_t to)
{
	struct pm_hugetlb *h = &f->eng->hugetlb;
	uint64_t first = from >> PINMM_HPAGE_ORDER;
	uint64_t last = ALIGN_UP(to, HPAGE_PMD_NR) >> PINMM_HPAGE_ORDER;
	unsigned long chg = 0;
	int err;

	pm_mutex_lock(&f->lock);
	err = hresv_grow(f, last);
	/* region_chg(): what the file has not reserved yet */
	for (uint64_t k = first; !err && k < last; k++)
		chg += !f->hresv[k];
	pm_mutex_lock(&h->lock);
	if (!err && h->nr_free - h->nr_resv < chg)
		err = -ENOMEM;
	else if (!err)
		h->nr_resv += chg;
	pm_mutex_unlock(&h->lock);
	for (uint64_t k = first; !err && k < last; k++)
		f->hresv[k] = 1;
	pm_mutex_unlock(&f->lock);
	return err;
}

/* The cached page of huge index k, allocated when alloc; f->lock held. */
static struct pinmm_page *filemap_hugetlb_locked(struct pinmm_file *f, uint64_t k, bool alloc,
						 int *err)
{
	uint64_t index = k << PINMM_HPAGE_ORDER;
	struct pinmm_page *folio = f->cache[index];

	if (folio || !alloc)
		return folio;
	folio = hugetlb_dequeue(f->eng, f->hresv[k]);
	if (!folio) {
		*err = -EFAULT;	/* SIGBUS; fallocate's ENOSPC */
		return NULL;
	}
	f->hresv[k] = 1;	/* vma_commit_reservation(): region_add() */
	frame_fill(eng_page_virt(f->eng, folio), 0, PINMM_PMD_SIZE);
	set_folio_mapping(folio, f);
	folio->index = index;
	page_set(folio, PG_pagecache);
	f->cache[index] = folio;	/* the cache's reference */
	return folio;
}

struct pinmm_page *hugetlb_filemap_get(struct pinmm_file *f, uint64_t index, bool alloc,
				       int *err)
{
	struct pinmm_page *folio;

	*err = 0;
	pm_mutex_lock(&f->lock);
	/* hugetlb_no_page(): past the end of the file is SIGBUS */
	if (index >= f->nr_pages) {
		pm_mutex_unlock(&f->lock);
		*err = -EFAULT;
		return NULL;
	}
	folio = filemap_hugetlb_locked(f, index >> PINMM_HPAGE_ORDER, alloc, err);
	if (folio)
		folio_get(folio);
	pm_mutex_unlock(&f->lock);
	return folio;
}

int hugetlbfs_fallocate(struct pinmm_file *f, uint8_t fill)
{
	int err = 0;

	pm_mutex_lock(&f->lock);
	for (uint64_t k = 0; k < file_hpages(f) && !err; k++) {
		struct pinmm_page *folio = filemap_hugetlb_locked(f, k, true, &err);

		if (folio && fill)
			frame_fill(eng_page_virt(f->eng, folio), fill, PINMM_PMD_SIZE);
	}
	pm_mutex_unlock(&f->lock);
	return err ? -ENOMEM : 0;
}

void hugetlbfs_evict(struct pinmm_file *f)
{
	unsigned long pending = 0;

	/* the reservations no page consumed (hugetlb_unreserve_pages()) */
	for (uint64_t k = 0; k < f->hresv_nr; k++)
		pending += f->hresv[k] && (k >= file_hpages(f) || !f->cache[k << PINMM_HPAGE_ORDER]);
	if (pending)
		hugetlb_unreserve(f->eng, pending);
	free(f->hresv);
	f->hresv = NULL;
	f->hresv_nr = 0;
}

int hugetlbfs_read(struct pinmm_file *f, uint64_t off, void *buf, size_t len)
{
	uint8_t *b = buf;

	pm_mutex_lock(&f->lock);
	while (len) {
		uint64_t in = off & (PINMM_PMD_SIZE - 1);
		size_t chunk = MIN(len, PINMM_PMD_SIZE - in);
		struct pinmm_page *folio = f->cache[ALIGN_DOWN(off >> PINMM_PAGE_SHIFT,
								HPAGE_PMD_NR)];

		/* a hole reads as zeroes (hugetlbfs_read_iter()) */
		if (folio)
			frame_copy_from(b, eng_page_virt(f->eng, folio) + in, chunk);
		else
			memset(b, 0, chunk);
		off += chunk;
		b += chunk;
		len -= chunk;
	}
	pm_mutex_unlock(&f->lock);
	return 0;
}
