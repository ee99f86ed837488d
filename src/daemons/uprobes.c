/* SPDX-License-Identifier: MIT */
/*
 * uprobes: a breakpoint at a file offset, written into every private
 * mapping of that text page.
 *
 * As Linux 6.18 does it (uprobe_write() over folio_walk, observed on the
 * host: docs/host-conformance.md): a FOLL_FORCE write fault first makes
 * the page the mapping's own - a page-cache page gets an anonymous copy,
 * an anonymous page shared after fork is unshared, an exclusive one
 * (pinned or not) stays - and the byte is written into that page in place.
 * A pinned page therefore stays mapped, and the device sees the breakpoint
 * as the CPU does. Unregistering writes the original byte back the same
 * way, and when the copy is then the page-cache page again and nothing may
 * pin it, zaps it: the next fault maps the page cache.
 *
 * Without uprobe_write_in_place, the former __replace_page(): every
 * mapping gets a new anonymous copy with the byte, installed in place of
 * the page it mapped - a pinned page included, which the process then no
 * longer maps. Mappings made after the registration are not probed
 * (Linux's uprobe_mmap() is not modelled).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/daemons.h>

#include "../mem/frame_io.h"
#include "../mm/mm.h"
#include "daemons.h"

#define UPROBE_SWBP 0xcc	/* int3 */

struct uprobe_target {
	struct pinmm_mm *mm;
	struct vm_area *vma;
	uint64_t addr;
};

/* Does vma map page index of f privately? Then the address, else 0. */
static uint64_t uprobe_vma_address(const struct vm_area *vma, const struct pinmm_file *f,
				   uint64_t index)
{
	if (vma->file != f || (vma->flags & VM_SHARED))
		return 0;
	return vma_address(vma, index, 1);
}

/*
 * The (mm, address) of each private mapping of the file page at index;
 * file->lock held. Only these two are kept: the VMA may be unmapped as
 * soon as the lock is dropped, so it is looked up again under the mm's
 * own lock (Linux's build_map_info() and register_for_each_vma() do the
 * same). mm structs live until the engine goes, so the pointer stays good.
 */
static size_t collect_targets(struct pinmm_file *f, uint64_t index,
			      struct uprobe_target **out)
{
	struct pm_list *pos;
	size_t n = 0, cap = 0;
	struct uprobe_target *t = NULL;

	pm_list_for_each(pos, &f->i_mmap) {
		struct vm_area *vma = container_of(pos, struct vm_area, file_link);
		uint64_t addr = uprobe_vma_address(vma, f, index);

		if (!addr || atomic_load(&vma->mm->dead))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			struct uprobe_target *nt = realloc(t, cap * sizeof(*nt));
			if (!nt)
				break;
			t = nt;
		}
		t[n++] = (struct uprobe_target){ vma->mm, NULL, addr };
	}
	*out = t;
	return n;
}

/* With t->mm's mmap_lock held: is the page still mapped there, by which
 * VMA? A munmap, mremap or exit between the collection and the lock makes
 * the target go away (or the address map something else). */
static bool uprobe_revalidate(struct uprobe_target *t, struct pinmm_file *f, uint64_t index)
{
	struct vm_area *vma;

	t->vma = NULL;
	if (atomic_load(&t->mm->dead))
		return false;
	vma = vma_lookup(t->mm, t->addr);
	if (!vma || uprobe_vma_address(vma, f, index) != t->addr)
		return false;
	t->vma = vma;
	return true;
}

/* Oldest mm first, then address: the order the mmap_locks are taken in.
 * fork() takes its parent's and then its (newer) child's: every path that
 * holds more than one takes them oldest first, or two could deadlock. */
static int target_cmp(const void *x, const void *y)
{
	const struct uprobe_target *a = x, *b = y;

	if (a->mm->id != b->mm->id)
		return a->mm->id < b->mm->id ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static bool first_of_mm(const struct uprobe_target *t, size_t k)
{
	for (size_t j = 0; j < k; j++)
		if (t[j].mm == t[k].mm)
			return false;
	return true;
}

/* The page mapped at addr, referenced (faulting it in first). */
static struct pinmm_page *uprobe_get_page(struct uprobe_target *t, int *err)
{
	struct pinmm_page *page = NULL;
	struct pt_table *pte;
	uint64_t sub;
	unsigned i;

	*err = handle_mm_fault(t->mm, t->vma, t->addr, 0);
	if (*err)
		return NULL;
	/* the reference is taken under the page-table lock, while the entry
	 * still maps the page: migration, KSM and reclaim change entries
	 * without mmap_lock, and the page may be freed once it is unmapped */
	pte = entry_lock(t->mm, t->addr, &i, &sub);
	if (pte) {
		pte_t e = pt_read(pte, i);

		if (pte_present(e) && !pte_special(e)) {
			page = eng_pfn_page(t->mm->eng, pte_pfn(e) + sub);
			folio_get(page_folio(page));
		}
		pm_mutex_unlock(&pte->ptl);
	}
	if (!page)
		*err = -EAGAIN;
	return page;
}

/* Install a copy of old with `byte` at off in place of old at t->addr. */
static int replace_page(struct pinmm *eng, struct uprobe_target *t,
			struct pinmm_page *old, size_t off, uint8_t byte)
{
	struct pinmm_page *new = pm_alloc_folio(eng, 0, PM_GFP_MOVABLE);
	struct pt_table *pte;
	unsigned i = pt_index(t->addr, PT_LEVEL_PTE);
	int err = -EAGAIN;

	if (!new)
		return -ENOMEM;
	frame_copy(eng_page_virt(eng, new), eng_page_virt(eng, old), PINMM_PAGE_SIZE);
	frame_copy_to(eng_page_virt(eng, new) + off, &byte, 1);
	pte = pte_table_lock(t->mm, t->addr);
	if (pte) {
		pte_t e = pt_read(pte, i);

		if (pte_present(e) && pte_pfn(e) == eng_page_pfn(eng, old)) {
			page_add_anon_rmap_new(new, t->vma, t->addr);
			page_set(new, PG_anon_exclusive);
			/* text stays read-only; the copy is this mapping's own */
			pt_xchg(pte, i, mk_pte(eng_page_pfn(eng, new),
					       PTE_YOUNG | (e & PTE_PROTNONE)));
			zap_present_pte(eng, e);
			new = NULL;
			err = 0;
		}
		pm_mutex_unlock(&pte->ptl);
	}
	if (new)
		folio_put(new);
	return err;
}

/* Is the page the file's page again (the original bytes)? */
static bool identical_to_cache(struct pinmm_file *f, uint64_t index, const uint8_t *frame)
{
	uint8_t want[PINMM_PAGE_SIZE], have[PINMM_PAGE_SIZE];

	frame_copy_from(have, frame, sizeof(have));
	return !pinmm_file_read(f, index * PINMM_PAGE_SIZE, want, sizeof(want)) &&
	       !memcmp(want, have, sizeof(want));
}

/* The page t maps, as the mapping's own exclusive anonymous page, with its
 * page-table lock held and its entry in *e; NULL when it changed under us. */
static struct pinmm_page *uprobe_own_page(struct pinmm *eng, struct uprobe_target *t,
					  struct pt_table **ptl, pte_t *e)
{
	struct pt_table *pte = pte_table_lock(t->mm, t->addr);
	struct pinmm_page *page = NULL;

	if (!pte)
		return NULL;
	*e = pt_read(pte, pt_index(t->addr, PT_LEVEL_PTE));
	if (pte_present(*e) && !pte_special(*e))
		page = eng_pfn_page(eng, pte_pfn(*e));
	if (!page || !page_test(page_folio(page), PG_anon) || !page_anon_exclusive(page)) {
		pm_mutex_unlock(&pte->ptl);
		return NULL;
	}
	*ptl = pte;
	return page;
}

/* The copy is the file's page again: unmap it (the next fault maps the
 * page-cache page), unless it changed or anyone but the mapping and our
 * reference holds it. */
static void uprobe_revert_copy(struct pinmm *eng, struct uprobe_target *t,
			       struct pinmm_page *page, pte_t e)
{
	struct pinmm_page *folio = page_folio(page);
	struct pt_table *pte;
	pte_t now;
	struct pinmm_page *again = uprobe_own_page(eng, t, &pte, &now);

	if (!again)
		return;	/* gone meanwhile: nothing to revert */
	if (again == page && now == e && folio_ref_count(folio) == 2 &&
	    !folio_maybe_dma_pinned(eng, folio)) {
		pt_xchg(pte, pt_index(t->addr, PT_LEVEL_PTE), 0);
		zap_present_pte(eng, now);
	}
	pm_mutex_unlock(&pte->ptl);
}

/*
 * The in-place write of one mapping (mmap_lock held): fault the page in as
 * the mapping's own (a FOLL_FORCE write: a copy of a page-cache or shared
 * page, kept read-only), then write the byte into it under the page-table
 * lock. Unregistering, a copy that is the file's page again goes (not one
 * that may be pinned, or that anyone else holds); the file read happens
 * outside the page-table lock (the file lock comes before it).
 */
static int uprobe_write_in_page(struct pinmm_file *f, struct uprobe_target *t, uint64_t off,
				uint8_t byte)
{
	struct pinmm *eng = f->eng;
	struct pt_table *pte;
	struct pinmm_page *page = NULL;
	pte_t e = 0;

	for (int tries = 0; tries < 16 && !page; tries++) {
		int err = handle_mm_fault(t->mm, t->vma, t->addr,
					  FAULT_FLAG_WRITE | FAULT_FLAG_FORCE);
		if (err)
			return err;
		page = uprobe_own_page(eng, t, &pte, &e);
	}
	if (!page)
		return -EAGAIN;
	frame_copy_to((uint8_t *)eng_page_virt(eng, page) + (off & (PINMM_PAGE_SIZE - 1)), &byte, 1);
	if (byte == UPROBE_SWBP) {
		pm_mutex_unlock(&pte->ptl);
		return 0;
	}
	/*
	 * The comparison reads the page after the page-table lock is gone
	 * (the file read takes the file lock, which comes first): hold a
	 * reference, as Linux holds its GUP reference, or a zap, COW or
	 * migration meanwhile frees the frame and the read sees whatever
	 * its next owner writes.
	 */
	struct pinmm_page *folio = page_folio(page);

	folio_get(folio);
	pm_mutex_unlock(&pte->ptl);
	if (!folio_maybe_dma_pinned(eng, folio) &&
	    identical_to_cache(f, off >> PINMM_PAGE_SHIFT, eng_page_virt(eng, page)))
		uprobe_revert_copy(eng, t, page, e);
	folio_put(folio);
	return 0;
}

static int uprobe_write_opcode(struct pinmm_file *f, uint64_t off, bool install)
{
	struct pinmm *eng;
	struct uprobe_target *t;
	struct pinmm_page **pages;
	uint8_t orig;
	size_t n;
	int err = 0;

	if (!f)
		return -EINVAL;
	/* __uprobe_register(): a mapping with no ->read_folio (hugetlbfs) */
	if (f->hugetlb)
		return -EIO;
	if (off >= f->nr_pages * PINMM_PAGE_SIZE)
		return -EINVAL;
	eng = f->eng;
	if (pinmm_file_read(f, off, &orig, 1))
		return -EINVAL;
	pm_mutex_lock(&f->lock);
	n = collect_targets(f, off >> PINMM_PAGE_SHIFT, &t);
	pm_mutex_unlock(&f->lock);
	if (n)
		qsort(t, n, sizeof(*t), target_cmp);
	pages = calloc(n ? n : 1, sizeof(*pages));
	if (!pages) {
		free(t);
		return -ENOMEM;
	}
	/* hold every mm's mmap_lock (once each): the mappings must stay what
	 * we check until we replace them */
	for (size_t k = 0; k < n; k++)
		if (first_of_mm(t, k))
			pm_down_read(&t[k].mm->mmap_lock);
	bool in_place = pm_policy(eng, PINMM_SW_UPROBE_WRITE_IN_PLACE);
	for (size_t k = 0; k < n && !err; k++) {
		if (!uprobe_revalidate(&t[k], f, off >> PINMM_PAGE_SHIFT))
			continue;
		if (in_place)
			err = uprobe_write_in_page(f, &t[k], off, install ? UPROBE_SWBP : orig);
		else if ((pages[k] = uprobe_get_page(&t[k], &err)))
			err = replace_page(eng, &t[k], pages[k], off & (PINMM_PAGE_SIZE - 1),
					   install ? UPROBE_SWBP : orig);
	}
	for (size_t k = 0; k < n; k++) {
		if (pages[k])
			folio_put(page_folio(pages[k]));
		if (first_of_mm(t, k))
			pm_up_read(&t[k].mm->mmap_lock);
	}
	free(pages);
	free(t);
	return err;
}

int pinmm_uprobe_register(struct pinmm_file *file, uint64_t off)
{
	return uprobe_write_opcode(file, off, true);
}

int pinmm_uprobe_unregister(struct pinmm_file *file, uint64_t off)
{
	return uprobe_write_opcode(file, off, false);
}
