/* SPDX-License-Identifier: MIT */
/*
 * VMAs in a red-black tree ordered by start (non-overlapping), so lookups,
 * inserts and removals stay O(log n) at 10^4 VMAs and more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"

static int vma_cmp(struct vm_area *a, struct vm_area *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE(vma_tree, vm_area, rb, vma_cmp)

struct vm_area *vma_alloc(struct pinmm_mm *mm)
{
	struct vm_area *v;

	if (pm_should_fail_alloc(mm->eng, PINMM_ALLOC_VMA))
		return NULL;
	/* vm.max_map_count: the caller answers -ENOMEM, as Linux */
	if (atomic_load_explicit(&mm->nr_vmas, memory_order_relaxed) >= mm->eng->cfg.max_map_count)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v)
		v->mm = mm;
	return v;
}

void vma_free(struct vm_area *vma)
{
	if (vma->hugetlb_resv)	/* its pages no fault took go back */
		hugetlb_unreserve(vma->mm->eng, vma->hugetlb_resv);
	if (vma->file)
		pm_file_put(vma->file);
	if (vma->anon_vma)
		anon_vma_put(vma->anon_vma);
	free(vma);
}

struct vm_area *vma_dup(struct pinmm_mm *mm, const struct vm_area *src)
{
	struct vm_area *v = vma_alloc(mm);

	if (!v)
		return NULL;
	/* field by field: src's list links belong to its anon_vma and file,
	 * whose other VMAs may be unlinking next to it right now */
	v->start = src->start;
	v->end = src->end;
	v->flags = src->flags;
	v->pgoff = src->pgoff;
	v->file = src->file;
	v->anon_vma = src->anon_vma;
	if (v->file)
		pm_file_get(v->file);
	if (v->anon_vma)
		anon_vma_get(v->anon_vma);
	return v;
}

struct vm_area *find_vma(struct pinmm_mm *mm, uint64_t addr)
{
	struct vm_area *n = RB_ROOT(&mm->vmas), *best = NULL;

	/* the lowest VMA whose end is above addr: VMAs don't overlap, so
	 * ordering by start orders by end too */
	while (n) {
		if (n->end > addr) {
			best = n;
			n = RB_LEFT(n, rb);
		} else {
			n = RB_RIGHT(n, rb);
		}
	}
	return best;
}

void vma_insert_rmap_locked(struct pinmm_mm *mm, struct vm_area *vma)
{
	RB_INSERT(vma_tree, &mm->vmas, vma);
	mm->nr_vmas++;
	vma_link_rmap_locked(vma);
}

void vma_insert(struct pinmm_mm *mm, struct vm_area *vma)
{
	vma_rmap_lock(vma);
	vma_insert_rmap_locked(mm, vma);
	vma_rmap_unlock(vma);
}

void vma_remove(struct pinmm_mm *mm, struct vm_area *vma)
{
	vma_unlink_rmap(vma);
	RB_REMOVE(vma_tree, &mm->vmas, vma);
	mm->nr_vmas--;
}

int vma_split(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr)
{
	struct vm_area *tail;

	if (addr <= vma->start || addr >= vma->end)
		return 0;
	/* hugetlb pages are never split (hugetlb_vm_op_split()) */
	if ((vma->flags & VM_HUGETLB) && !IS_ALIGNED(addr, PINMM_PMD_SIZE))
		return -EINVAL;
	/* a THP straddling the new boundary is PTE-mapped first, as Linux's
	 * vma_adjust_trans_huge() */
	if (!IS_ALIGNED(addr, PINMM_PMD_SIZE) &&
	    split_huge_pmd_address(mm, addr) == -ENOMEM)
		return -ENOMEM;
	tail = vma_dup(mm, vma);
	if (!tail)
		return -ENOMEM;
	tail->start = addr;
	tail->pgoff = vma->pgoff + ((addr - vma->start) >> PINMM_PAGE_SHIFT);
	/* the owner's reservation follows the empty slots */
	tail->hugetlb_resv = hugetlb_resv_in(vma, addr, vma->end);
	vma->hugetlb_resv -= tail->hugetlb_resv;
	/*
	 * An rmap walker must see the old VMA whole or both halves, never
	 * the shortened one alone: it would miss the entries of the tail (a
	 * migration would leave its entries there behind). Linux holds the
	 * rmap locks across the change too (vma_prepare()). The key of vma
	 * (its start) does not change: no re-insert.
	 */
	vma_rmap_lock(vma);
	vma->end = addr;
	vma_insert_rmap_locked(mm, tail);
	vma_rmap_unlock(vma);
	return 0;
}

/* Can next be folded into prev? The same flags, file and anon_vma, and
 * pages that continue prev's (as Linux's is_mergeable_vma() and the
 * pgoff check of vma_merge). */
static bool vma_mergeable(const struct vm_area *prev, const struct vm_area *next)
{
	return prev->end == next->start && prev->flags == next->flags &&
	       prev->file == next->file && prev->anon_vma == next->anon_vma &&
	       next->pgoff == prev->pgoff + ((prev->end - prev->start) >> PINMM_PAGE_SHIFT);
}

void vma_merge_range(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area *v = find_vma(mm, start ? start - 1 : 0);

	while (v && v->start <= end) {
		struct vm_area *next = vma_next(mm, v);

		if (!next || next->start > end || !vma_mergeable(v, next)) {
			v = next;
			continue;
		}
		/* rmap walkers see the two VMAs or the merged one, never a
		 * range mapped by neither (as vma_split) */
		vma_rmap_lock(v);
		v->end = next->end;
		v->hugetlb_resv += next->hugetlb_resv;
		next->hugetlb_resv = 0;
		if (next->anon_vma)
			pm_list_del(&next->anon_link);
		if (next->file)
			pm_list_del(&next->file_link);
		RB_REMOVE(vma_tree, &mm->vmas, next);
		mm->nr_vmas--;
		vma_rmap_unlock(v);
		vma_free(next);
	}
}

int vma_split_range(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area *v = vma_lookup(mm, start);
	int err = 0;

	if (v)
		err = vma_split(mm, v, start);
	if (!err && (v = vma_lookup(mm, end - 1)))
		err = vma_split(mm, v, end);
	return err;
}

uint64_t get_unmapped_area(struct pinmm_mm *mm, uint64_t len, uint64_t align)
{
	/* top-down from mmap_base, as Linux's default layout; the gap above
	 * stands for the stack */
	uint64_t hi = PM_MMAP_BASE;
	struct vm_area *v = RB_MAX(vma_tree, &mm->vmas);

	if (len > PINMM_USER_MAX - PINMM_USER_MIN)
		return 0;
	for (;;) {
		uint64_t gap_lo = v ? v->end : PINMM_USER_MIN;

		if (hi >= len) {
			uint64_t cand = ALIGN_DOWN(hi - len, align);
			if (cand >= gap_lo && cand >= PINMM_USER_MIN &&
			    cand + len <= PM_MMAP_BASE)
				return cand;
		}
		if (!v)
			return 0;
		hi = MIN(v->start, PM_MMAP_BASE);
		v = RB_PREV(vma_tree, &mm->vmas, v);
	}
}
