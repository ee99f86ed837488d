/* SPDX-License-Identifier: MIT */
/*
 * mremap: shrink, grow in place, or move. A move carries the entries over
 * (move_ptes): the pages, their map counts and their pins go with the
 * mapping; an anon VMA keeps its linear page index (vm_pgoff) so the rmap
 * still finds each page at its new address.
 */
#include <errno.h>

#include "mm.h"

/* Move the entries of [old, old+len) to [new, new+len). mmap_lock write. */
static int move_page_tables(struct pinmm_mm *mm, uint64_t old_addr,
			    uint64_t new_addr, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PINMM_PAGE_SIZE) {
		struct pt_table *src = pte_table_lock(mm, old_addr + off);
		unsigned si = pt_index(old_addr + off, PT_LEVEL_PTE);
		pte_t e;

		if (!src)
			continue;
		e = pt_read(src, si);
		pm_mutex_unlock(&src->ptl);
		if (pte_none(e))
			continue;
		/* allocate the destination first: nothing moves on -ENOMEM */
		struct pt_table *dst = pte_table_alloc(mm, new_addr + off, NULL);
		if (!dst)
			return -ENOMEM;
		src = pte_table_lock(mm, old_addr + off);
		if (!src)
			continue;
		if (dst != src)
			pm_mutex_lock(&dst->ptl);
		/* clear first: a GUP-fast walker that read the old entry fails
		 * its recheck and retries at the new address */
		e = pt_xchg(src, si, 0);
		pt_write(dst, pt_index(new_addr + off, PT_LEVEL_PTE), e);
		if (dst != src)
			pm_mutex_unlock(&dst->ptl);
		pm_mutex_unlock(&src->ptl);
	}
	return 0;
}

static bool range_free(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area *v = find_vma(mm, start);
	return end <= PINMM_USER_MAX && end > start && !(v && v->start < end);
}

int pinmm_mremap(struct pinmm_mm *mm, uint64_t old_addr, uint64_t old_len,
		 uint64_t new_len, unsigned flags, uint64_t new_addr,
		 uint64_t *out_addr)
{
	struct vm_area *vma, *nv = NULL;
	int err = 0;

	if (!mm || !out_addr || !IS_ALIGNED(old_addr, PINMM_PAGE_SIZE) ||
	    flags & ~(PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED | PINMM_MREMAP_DONTUNMAP) ||
	    ((flags & PINMM_MREMAP_FIXED) && !(flags & PINMM_MREMAP_MAYMOVE)) ||
	    ((flags & PINMM_MREMAP_DONTUNMAP) &&
	     (!(flags & PINMM_MREMAP_MAYMOVE) || old_len != new_len)) || !new_len)
		return -EINVAL;
	old_len = ALIGN_UP(old_len, PINMM_PAGE_SIZE);
	new_len = ALIGN_UP(new_len, PINMM_PAGE_SIZE);
	if (!old_len || old_addr + old_len < old_addr)
		return -EINVAL;
	if ((flags & PINMM_MREMAP_FIXED) &&
	    (!IS_ALIGNED(new_addr, PINMM_PAGE_SIZE) || new_addr < PINMM_USER_MIN ||
	     new_addr + new_len > PINMM_USER_MAX || new_addr + new_len < new_addr ||
	     (new_addr < old_addr + old_len && old_addr < new_addr + new_len)))
		return -EINVAL;
	if (atomic_load(&mm->dead))
		return -ESRCH;

	pm_down_write(&mm->mmap_lock);
	vma = vma_lookup(mm, old_addr);
	if (!vma || old_addr + old_len > vma->end) {
		err = -EFAULT;
		goto out;
	}
	if (vma->flags & VM_HUGETLB) {
		err = -EINVAL;	/* moving hugetlb page tables is not modelled */
		goto out;
	}
	if ((flags & PINMM_MREMAP_DONTUNMAP) && (vma->flags & VM_SHARED)) {
		err = -EINVAL;
		goto out;
	}

	if (!(flags & PINMM_MREMAP_FIXED)) {
		if (new_len <= old_len && !(flags & PINMM_MREMAP_DONTUNMAP)) {
			/* shrink (or same size): unmap the tail */
			if (new_len < old_len)
				err = do_munmap(mm, old_addr + new_len, old_len - new_len);
			*out_addr = old_addr;
			goto out;
		}
		if (!(flags & PINMM_MREMAP_DONTUNMAP) &&
		    old_addr + old_len == vma->end &&
		    range_free(mm, vma->end, old_addr + new_len) &&
		    (!vma->file || ((vma->end - vma->start + new_len - old_len) >>
				     PINMM_PAGE_SHIFT) + vma->pgoff <= vma->file->nr_pages)) {
			/* grow in place: the tree key (start) is unchanged;
			 * rmap walkers read the bounds under this lock */
			vma_rmap_lock(vma);
			vma->end = old_addr + new_len;
			vma_rmap_unlock(vma);
			*out_addr = old_addr;
			goto out;
		}
		if (!(flags & PINMM_MREMAP_MAYMOVE)) {
			err = -ENOMEM;
			goto out;
		}
		new_addr = get_unmapped_area(mm, new_len,
					     new_len >= PINMM_PMD_SIZE ? PINMM_PMD_SIZE
								       : PINMM_PAGE_SIZE);
		if (!new_addr) {
			err = -ENOMEM;
			goto out;
		}
	} else {
		err = do_munmap(mm, new_addr, new_len);
		if (err)
			goto out;
		/* the unmap may have split or removed the source VMA */
		vma = vma_lookup(mm, old_addr);
	}

	/* isolate the moving part as one VMA */
	err = vma_split_range(mm, old_addr, old_addr + old_len);
	if (err)
		goto out;
	vma = vma_lookup(mm, old_addr);
	nv = vma_dup(mm, vma);
	if (!nv) {
		err = -ENOMEM;
		goto out;
	}
	nv->start = new_addr;
	nv->end = new_addr + new_len;
	/* entries move one page at a time: PTE-map any THP of the range
	 * (a PMD split cannot fail: its table was set aside) */
	for (uint64_t a = ALIGN_DOWN(old_addr, PINMM_PMD_SIZE); a < old_addr + old_len;
	     a += PINMM_PMD_SIZE)
		split_huge_pmd_address(mm, MAX(a, old_addr));
	/* rmap walkers must not look between the old and the new place: the
	 * entries and the VMA that finds them move under one lock */
	vma_rmap_lock(vma);
	err = move_page_tables(mm, old_addr, new_addr, MIN(old_len, new_len));
	if (err)	/* put back what moved */
		move_page_tables(mm, new_addr, old_addr, MIN(old_len, new_len));
	else
		vma_insert_rmap_locked(mm, nv);
	vma_rmap_unlock(vma);
	if (err) {
		free_pgtables(mm, new_addr, new_addr + new_len);
		vma_free(nv);
		goto out;
	}
	if (!(flags & PINMM_MREMAP_DONTUNMAP))
		err = do_munmap(mm, old_addr, old_len);
	*out_addr = new_addr;
out:
	pm_up_write(&mm->mmap_lock);
	return err;
}
