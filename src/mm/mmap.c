/* SPDX-License-Identifier: MIT */
/* mmap, munmap, mprotect. */
#include <errno.h>

#include "mm.h"

static bool range_ok(uint64_t addr, uint64_t len)
{
	return IS_ALIGNED(addr, PINMM_PAGE_SIZE) && len &&
	       addr >= PINMM_USER_MIN && addr + len > addr &&
	       addr + len <= PINMM_USER_MAX;
}

static unsigned long prot_to_vm(unsigned prot)
{
	return (prot & PINMM_PROT_READ ? VM_READ : 0) |
	       (prot & PINMM_PROT_WRITE ? VM_WRITE | VM_READ : 0) |
	       (prot & PINMM_PROT_EXEC ? VM_EXEC : 0);
}

/* Fault every page in, as MAP_POPULATE / mm_populate(). mmap_lock read. */
static int populate_range(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end; a += PINMM_PAGE_SIZE) {
		struct vm_area *vma = vma_lookup(mm, a);
		int err;

		if (!vma || !(vma->flags & VM_ACCESS_MASK))
			continue;
		err = handle_mm_fault(mm, vma, a,
				      vma->flags & VM_WRITE ? FAULT_FLAG_WRITE : 0);
		if (err)
			return err;
	}
	return 0;
}

/* mmap of anonymous memory (file NULL) or of a file at page offset pgoff. */
static int do_mmap(struct pinmm_mm *mm, uint64_t addr, uint64_t len, unsigned prot,
		   unsigned flags, struct pinmm_file *file, uint64_t pgoff,
		   uint64_t *out_addr)
{
	const unsigned known = PINMM_MAP_PRIVATE | PINMM_MAP_SHARED |
			       PINMM_MAP_FIXED | PINMM_MAP_POPULATE |
			       PINMM_MAP_FIXED_NOREPLACE | PINMM_MAP_ALIGN_2M |
			       PINMM_MAP_HUGEPAGE | PINMM_MAP_NOHUGEPAGE | PINMM_MAP_HUGETLB;
	bool hugetlb = (flags & PINMM_MAP_HUGETLB) || (file && file->hugetlb);
	bool fixed = flags & (PINMM_MAP_FIXED | PINMM_MAP_FIXED_NOREPLACE);
	struct vm_area *vma;
	int err = 0;

	if (!mm || !out_addr || (flags & ~known) || prot & ~7u ||
	    !(flags & PINMM_MAP_PRIVATE) == !(flags & PINMM_MAP_SHARED) || !len ||
	    ((flags & PINMM_MAP_HUGEPAGE) && (flags & PINMM_MAP_NOHUGEPAGE)))
		return -EINVAL;
	/* MAP_HUGETLB is anonymous memory or a hugetlb file's, nothing else
	 * (ksys_mmap_pgoff()); no THP advice for it */
	if (hugetlb && ((file && !file->hugetlb) ||
			(flags & (PINMM_MAP_HUGEPAGE | PINMM_MAP_NOHUGEPAGE))))
		return -EINVAL;
	/* hugetlbfs_file_mmap(): the offset is whole huge pages */
	if (hugetlb && file && !IS_ALIGNED(pgoff, HPAGE_PMD_NR))
		return -EINVAL;
	len = ALIGN_UP(len, hugetlb ? PINMM_PMD_SIZE : PINMM_PAGE_SIZE);
	if (len == 0 || len > PINMM_USER_MAX)
		return -ENOMEM;
	if (fixed && (!range_ok(addr, len) || (hugetlb && !IS_ALIGNED(addr, PINMM_PMD_SIZE))))
		return -EINVAL;
	if (atomic_load(&mm->dead))
		return -ESRCH;

	vma = vma_alloc(mm);
	if (!vma)
		return -ENOMEM;
	vma->flags = prot_to_vm(prot) |
		     (flags & PINMM_MAP_HUGEPAGE ? VM_HUGEPAGE : 0) |
		     (flags & PINMM_MAP_NOHUGEPAGE ? VM_NOHUGEPAGE : 0);
	if (flags & PINMM_MAP_SHARED)
		vma->flags |= VM_SHARED | VM_MAYWRITE;
	if (hugetlb && !file && (flags & PINMM_MAP_SHARED)) {
		/* MAP_SHARED|MAP_HUGETLB: an unnamed hugetlb file
		 * (hugetlb_file_setup()), reserved below like any other */
		err = hugetlbfs_file_setup(mm->eng, len, &vma->file);
		if (err) {
			vma_free(vma);
			return err;
		}
		pgoff = 0;
	} else if (file) {
		pm_file_get(file);
		vma->file = file;
	}
	if (hugetlb) {
		/* hugetlb_reserve_pages(): a shared mapping's pages are the
		 * file's to reserve, a private one's its owner's */
		vma->flags |= VM_HUGETLB;
		if (flags & PINMM_MAP_SHARED) {
			err = hugetlb_reserve_file(vma->file, pgoff, pgoff + (len >> PINMM_PAGE_SHIFT));
		} else {
			err = hugetlb_reserve(mm->eng, len >> PINMM_PMD_SHIFT);
			vma->hugetlb_resv = err ? 0 : len >> PINMM_PMD_SHIFT;
		}
		/* hugetlbfs_file_mmap(): a writable mapping past the end of
		 * the file makes it that long */
		if (!err && vma->file && (vma->flags & VM_WRITE))
			err = hugetlbfs_extend(vma->file, pgoff + (len >> PINMM_PAGE_SHIFT));
		if (err) {
			vma_free(vma);
			return err;
		}
	}
	if (!vma->file && (flags & PINMM_MAP_SHARED)) {
		/* shared anonymous memory is an unnamed file */
		vma->file = pm_file_alloc(mm->eng, len >> PINMM_PAGE_SHIFT);
		if (!vma->file) {
			vma_free(vma);
			return -ENOMEM;
		}
	}
	if (flags & PINMM_MAP_PRIVATE) {
		/* private mappings get anonymous pages (COW copies) */
		vma->anon_vma = anon_vma_alloc(mm->eng);
		if (!vma->anon_vma) {
			vma_free(vma);
			return -ENOMEM;
		}
	}

	pm_down_write(&mm->mmap_lock);
	if (fixed) {
		struct vm_area *v = find_vma(mm, addr);
		if (v && v->start < addr + len) {
			if (flags & PINMM_MAP_FIXED_NOREPLACE) {
				err = -EEXIST;
				goto out_unlock;
			}
			/* MAP_FIXED replaces what was there */
			err = do_munmap(mm, addr, len);
			if (err)
				goto out_unlock;
		}
	} else {
		uint64_t align = (flags & (PINMM_MAP_ALIGN_2M | PINMM_MAP_HUGEPAGE |
					   PINMM_MAP_HUGETLB)) ||
					 len >= PINMM_PMD_SIZE ?
					 PINMM_PMD_SIZE : PINMM_PAGE_SIZE;
		struct vm_area *v = addr ? find_vma(mm, addr) : NULL;

		/* honour a free, aligned hint as Linux does */
		if (!(addr && range_ok(addr, len) && IS_ALIGNED(addr, align) &&
		      !(v && v->start < addr + len)))
			addr = get_unmapped_area(mm, len, align);
		if (!addr) {
			err = -ENOMEM;
			goto out_unlock;
		}
	}
	vma->start = addr;
	vma->end = addr + len;
	vma->pgoff = vma->file ? pgoff : addr >> PINMM_PAGE_SHIFT;
	vma_insert(mm, vma);
	vma = NULL;
	*out_addr = addr;
	if (flags & PINMM_MAP_POPULATE) {
		/* a partial populate leaves the mapping in place (as Linux) */
		(void)populate_range(mm, addr, addr + len);
	}
out_unlock:
	pm_up_write(&mm->mmap_lock);
	if (vma)
		vma_free(vma);
	return err;
}

int pinmm_mmap(struct pinmm_mm *mm, uint64_t addr, uint64_t len, unsigned prot,
	       unsigned flags, uint64_t *out_addr)
{
	return do_mmap(mm, addr, len, prot, flags, NULL, 0, out_addr);
}

int pinmm_mmap_file(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		    unsigned prot, unsigned flags, struct pinmm_file *file,
		    uint64_t off, uint64_t *out_addr)
{
	if (!file || !IS_ALIGNED(off, PINMM_PAGE_SIZE))
		return -EINVAL;
	return do_mmap(mm, addr, len, prot, flags, file, off >> PINMM_PAGE_SHIFT, out_addr);
}

int pinmm_munmap(struct pinmm_mm *mm, uint64_t addr, uint64_t len)
{
	int err;

	if (!mm || !range_ok(addr, ALIGN_UP(len, PINMM_PAGE_SIZE)))
		return -EINVAL;
	if (atomic_load(&mm->dead))
		return -ESRCH;
	pm_down_write(&mm->mmap_lock);
	err = do_munmap(mm, addr, ALIGN_UP(len, PINMM_PAGE_SIZE));
	pm_up_write(&mm->mmap_lock);
	return err;
}

/* Apply new protection to the entries of [start,end). */
static void change_protection(struct pinmm_mm *mm, uint64_t start, uint64_t end,
			      unsigned long vm_flags)
{
	for (uint64_t addr = start; addr < end;) {
		uint64_t next = MIN(ALIGN_DOWN(addr, PINMM_PMD_SIZE) + PINMM_PMD_SIZE, end);
		struct pt_table *pte = pmd_leaf_lock_wait(mm, addr);
		unsigned pi = pt_index(addr, PT_LEVEL_PMD);

		if (pte) {
			/* VMA boundaries never cut a PMD mapping (vma_split) */
			pte_t e = pt_read(pte, pi);
			if (!(vm_flags & VM_WRITE) && pte_write(e))
				pt_clear_bits(pte, pi, PTE_WRITE);
			if (!(vm_flags & VM_ACCESS_MASK))
				pt_set_bits(pte, pi, PTE_PROTNONE);
			else if (pte_protnone(e))
				pt_clear_bits(pte, pi, PTE_PROTNONE);
			pm_mutex_unlock(&pte->ptl);
			addr = next;
			continue;
		}
		pte = pte_table_lock(mm, addr);
		if (pte) {
			for (; addr < next; addr += PINMM_PAGE_SIZE) {
				unsigned i = pt_index(addr, PT_LEVEL_PTE);
				pte_t e = pt_read(pte, i);

				if (is_migration_entry(e) && !(vm_flags & VM_WRITE))
					pt_clear_bits(pte, i, PTE_WRITE);
				if (!pte_present(e))
					continue;
				/* write access comes back through a fault
				 * (which reuses an exclusive page) */
				if (!(vm_flags & VM_WRITE) && pte_write(e))
					pt_clear_bits(pte, i, PTE_WRITE);
				if (!(vm_flags & VM_ACCESS_MASK))
					pt_set_bits(pte, i, PTE_PROTNONE);
				else if (pte_protnone(e))
					pt_clear_bits(pte, i, PTE_PROTNONE);
			}
			pm_mutex_unlock(&pte->ptl);
		}
		addr = next;
	}
}

/* Every page of [start,end) is inside some VMA. */
static bool range_mapped(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area *v = find_vma(mm, start);

	while (start < end) {
		if (!v || v->start > start)
			return false;
		start = v->end;
		v = vma_next(mm, v);
	}
	return true;
}

int pinmm_mprotect(struct pinmm_mm *mm, uint64_t addr, uint64_t len, unsigned prot)
{
	uint64_t end = addr + ALIGN_UP(len, PINMM_PAGE_SIZE);
	int err;

	if (!mm || !range_ok(addr, end - addr) || prot & ~7u)
		return -EINVAL;
	if (atomic_load(&mm->dead))
		return -ESRCH;
	pm_down_write(&mm->mmap_lock);
	if (!range_mapped(mm, addr, end)) {
		err = -ENOMEM;	/* Linux's answer for a hole */
		goto out;
	}
	err = vma_split_range(mm, addr, end);
	if (err)
		goto out;
	unsigned long vm = prot_to_vm(prot);
	for (struct vm_area *v = find_vma(mm, addr); v && v->start < end;
	     v = vma_next(mm, v)) {
		v->flags = (v->flags & ~VM_ACCESS_MASK) | vm;
		change_protection(mm, v->start, v->end, v->flags);
	}
	vma_merge_range(mm, addr, end);
out:
	pm_up_write(&mm->mmap_lock);
	return err;
}
