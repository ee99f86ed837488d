/* SPDX-License-Identifier: MIT */
/*
 * Address spaces: struct pinmm_mm (the kernel's mm_struct), VMAs in a
 * red-black tree (libbsd's sys/tree.h) ordered by start address, page
 * tables, and the shmem objects that back shared anonymous mappings.
 */
#ifndef PM_MM_MM_H
#define PM_MM_MM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/tree.h>

#include <pinmm/mm.h>

#include "../engine.h"
#include "pgtable.h"

/* vm_flags */
#define VM_READ 0x0001ul
#define VM_WRITE 0x0002ul
#define VM_EXEC 0x0004ul
#define VM_SHARED 0x0008ul
#define VM_MAYWRITE 0x0010ul	/* shared: may become writable */
#define VM_DONTCOPY 0x0100ul	/* MADV_DONTFORK */
#define VM_MERGEABLE 0x0200ul	/* MADV_MERGEABLE (KSM) */
#define VM_HUGEPAGE 0x0400ul
#define VM_NOHUGEPAGE 0x0800ul
#define VM_HUGETLB 0x1000ul	/* MAP_HUGETLB: huge pages from the pool */
#define VM_ACCESS_MASK (VM_READ | VM_WRITE | VM_EXEC)

/*
 * A file: a page cache. Backs shared anonymous memory (an unnamed file, as
 * Linux's shmem) and the in-memory files of file mappings. i_mmap lists
 * the VMAs that map it, for the rmap.
 */
struct pinmm_file {
	struct pinmm *eng;
	_Atomic long refcount;	/* the creator + VMAs */
	pm_mutex_t lock;	/* cache[] and i_mmap */
	uint64_t nr_pages;
	struct pinmm_page **cache;	/* one reference each */
	bool dirty_tracked;	/* PINMM_FILE_DISK: writeback, no writable longterm pins */
	/* hugetlbfs.c: 2 MiB pages of the pool, cached at the index of their
	 * first 4 KiB page; hresv[k]: huge page k is in the file's
	 * reservation map (reserved, or its page allocated), which may
	 * reach past the file's end (hresv_nr: its length) */
	bool hugetlb;
	uint8_t *hresv;
	uint64_t hresv_nr;
	struct pm_list i_mmap;	/* vma->file_link */
	struct pm_list link;	/* engine->files */
	/* freed with RCU: an rmap walker holding only a page of the cache
	 * reads the page's mapping and may try to take a reference */
	struct rcu_head rcu;
	struct pm_rcu_domain *dom;
};

/*
 * anon_vma: the rmap of anonymous pages. Simplified from Linux's chains:
 * one anon_vma per family of VMAs (a VMA, its splits, its mremap moves and
 * its fork copies), each anon page pointing at it; a walk visits every VMA
 * of the family and looks at the page's linear index there. Freed with RCU
 * when the last VMA leaves, so a walker that saw the page mapped may still
 * try to take a reference.
 */
struct anon_vma {
	struct pinmm *eng;
	_Atomic long refcount;	/* VMAs + walkers */
	pm_mutex_t lock;	/* vmas */
	struct pm_list vmas;	/* vma->anon_link */
	struct rcu_head rcu;
	struct pm_rcu_domain *dom;
};

struct vm_area {
	uint64_t start, end;
	/* changed under mmap_lock for write; rmap walkers (uprobes' target
	 * collection, writeback) read it under the file or anon_vma lock */
	_Atomic unsigned long flags;
	uint64_t pgoff;		/* anon: linear index of start; file: page in file */
	struct pinmm_file *file;	/* shared anon, or a file mapping */
	struct anon_vma *anon_vma;	/* private mappings */
	/* VM_HUGETLB, the owner of a private mapping: huge pages reserved
	 * for it that no fault has taken yet */
	unsigned long hugetlb_resv;
	struct pm_list anon_link, file_link;
	struct pinmm_mm *mm;
	RB_ENTRY(vm_area) rb;
};

RB_HEAD(vma_tree, vm_area);

struct pinmm_mm {
	struct pinmm *eng;
	unsigned id;
	pm_rwsem_t mmap_lock;
	struct vma_tree vmas;
	/* changed under mmap_lock; read without it by vma_alloc()'s
	 * max_map_count check (which callers make before locking) */
	_Atomic unsigned long nr_vmas;
	struct pt_table *_Atomic pgd;	/* NULL once the mm has exited */
	/*
	 * fork() makes this odd while it write-protects the parent's entries;
	 * a FOLL_PIN GUP-fast samples it before the walk and rechecks it after
	 * taking its pins (Linux: mm->write_protect_seq).
	 */
	_Atomic unsigned write_protect_seq;
	_Atomic bool dead;
	struct pm_list link;	/* engine->mms */
};

/* where top-down address allocation starts (1 GiB below the top) */
#define PM_MMAP_BASE (PINMM_USER_MAX - (1ull << 30))

/* --- vma.c --- */
RB_PROTOTYPE(vma_tree, vm_area, rb, vma_cmp)
struct vm_area *vma_alloc(struct pinmm_mm *mm);
/* mm.c: at the process limit (max_mms)? */
bool mm_over_limit(const struct pinmm *eng);
void vma_free(struct vm_area *vma);
/* First VMA with end > addr, or NULL. */
struct vm_area *find_vma(struct pinmm_mm *mm, uint64_t addr);
/* The VMA containing addr, or NULL. */
static inline struct vm_area *vma_lookup(struct pinmm_mm *mm, uint64_t addr)
{
	struct vm_area *v = find_vma(mm, addr);
	return v && v->start <= addr ? v : NULL;
}
static inline struct vm_area *vma_next(struct pinmm_mm *mm, struct vm_area *v)
{
	return RB_NEXT(vma_tree, &mm->vmas, v);
}
void vma_insert(struct pinmm_mm *mm, struct vm_area *vma);
/* ... with vma_rmap_lock() held on a VMA of the same anon_vma and file */
void vma_insert_rmap_locked(struct pinmm_mm *mm, struct vm_area *vma);
void vma_remove(struct pinmm_mm *mm, struct vm_area *vma);
/* Split so that a VMA boundary falls at addr (inside vma). -ENOMEM. */
int vma_split(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr);
/* Make [start,end) boundaries VMA boundaries; -ENOMEM. */
int vma_split_range(struct pinmm_mm *mm, uint64_t start, uint64_t end);
/* After flags changed in [start,end): merge the VMAs from the one before
 * start to the one after end that are alike again (vma_merge). */
void vma_merge_range(struct pinmm_mm *mm, uint64_t start, uint64_t end);
struct vm_area *vma_dup(struct pinmm_mm *mm, const struct vm_area *src);
/* Find a free, aligned range of len bytes, top-down; 0 when none. */
uint64_t get_unmapped_area(struct pinmm_mm *mm, uint64_t len, uint64_t align);
static inline bool vma_is_anon_private(const struct vm_area *v)
{
	return !(v->flags & VM_SHARED);
}
/* anon: the linear page index of addr (kept across mremap, as vm_pgoff) */
static inline uint64_t vma_page_index(const struct vm_area *v, uint64_t addr)
{
	return v->pgoff + ((addr - v->start) >> PINMM_PAGE_SHIFT);
}

/* --- rmap.c --- */
struct anon_vma *anon_vma_alloc(struct pinmm *eng);
void anon_vma_get(struct anon_vma *av);
void anon_vma_put(struct anon_vma *av);
/* Link a VMA into its anon_vma and file (it must be in neither), with
 * vma_rmap_lock() held (by a VMA sharing its rmap); unlink it (locks). */
void vma_link_rmap_locked(struct vm_area *vma);
/* Where the first of nr pages at linear (or file) index idx would sit in
 * vma; 0 when none of them falls inside. For nr == 1 the address is
 * inside the VMA. */
uint64_t vma_address(const struct vm_area *vma, uint64_t idx, unsigned long nr);
void vma_unlink_rmap(struct vm_area *vma);
/* Call fn for every (vma, address) where the folio's page i may be mapped
 * (fn checks the entry itself); stops when fn returns false. Holds the
 * anon_vma / file lock across the walk. Returns false if the walk could
 * not start (the folio's anon_vma is gone: nothing maps it). */
typedef bool (*rmap_one_fn)(struct pinmm_page *folio, struct vm_area *vma,
			    uint64_t addr, void *arg);
bool rmap_walk(struct pinmm *eng, struct pinmm_page *folio, rmap_one_fn fn, void *arg);
/* The same in steps, for a walker that unmaps the folio and must find its
 * mappings again (migration): the pin keeps the rmap alive in between. */
struct rmap_pin {
	struct anon_vma *av;
	struct pinmm_file *file;
};
bool rmap_pin_get(struct pinmm *eng, struct pinmm_page *folio, struct rmap_pin *rp);
/* Its mappings: a PMD map counts once, as each PTE map (Linux's
 * folio_large_mapcount()). */
int folio_large_mapcount(struct pinmm_page *folio);
bool folio_mapped(struct pinmm_page *folio);
void rmap_walk_pinned(struct rmap_pin *rp, struct pinmm_page *folio, rmap_one_fn fn,
		      void *arg);
/* ... over nr pages from folio (a folio split meanwhile is still walked
 * as the large one it was) */
void rmap_walk_pinned_nr(struct rmap_pin *rp, struct pinmm_page *folio, unsigned long nr,
			 rmap_one_fn fn, void *arg);
void rmap_pin_put(struct rmap_pin *rp);
/*
 * The clear-then-check step of a mover (reclaim, migration, folio split)
 * for one present entry e mapping page of folio, ptl held: replace it by
 * the swap or migration entry (type, offset), keeping the bits a restore
 * needs and whether the page was exclusive (the clear); then, when
 * check_pins, read the pin count (the check) and give a folio that may be
 * pinned its entry back: false. true: the entry is gone; the caller drops
 * the mapping's count and reference.
 */
bool try_to_unmap_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t e,
		      enum pte_swp_type type, uint64_t offset, struct pinmm_page *page,
		      struct pinmm_page *folio, bool check_pins);
/* The way back: entry i (swp, left by try_to_unmap_pte) maps page again,
 * with a reference on folio and the bits it kept. ptl held. */
void restore_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t swp,
		 struct pinmm_page *page, struct pinmm_page *folio);
/*
 * The PTEs of vma that may map pages 0..nr-1 of a folio vma_address() put
 * at addr: fn(pte, i, e, j, arg) for page j, with its table locked and e
 * its entry; pages outside the VMA (a folio partly unmapped here) and
 * missing tables are skipped. fn returns false to stop the walk (false).
 */
typedef bool (*folio_pte_fn)(struct pt_table *pte, unsigned i, pte_t e, unsigned long j,
			     void *arg);
bool folio_walk_ptes(struct vm_area *vma, uint64_t addr, unsigned long nr, folio_pte_fn fn,
		     void *arg);
/* Page j of folio, if e maps it: a migration entry in its place (split and
 * migration), by try_to_unmap_pte(). false: it may be pinned and stays. */
bool try_to_migrate_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t e,
			struct pinmm_page *folio, unsigned long j, bool check_pins);
/* A migration entry e for the frame old_pfn maps page (of folio) again. */
void remove_migration_pte(struct pinmm *eng, struct pt_table *pte, unsigned i, pte_t e,
			  uint64_t old_pfn, struct pinmm_page *page, struct pinmm_page *folio);
/* Lock / unlock a VMA's rmap (mremap moves entries under it). */
void vma_rmap_lock(struct vm_area *vma);
void vma_rmap_unlock(struct vm_area *vma);

/* --- filemap.c --- */
struct pinmm_file *pm_file_alloc(struct pinmm *eng, uint64_t nr_pages);
void pm_file_get(struct pinmm_file *f);
void pm_file_put(struct pinmm_file *f);
bool pm_file_try_get(struct pinmm_file *f);
/* The cached page at index (allocated on first use), with a new reference
 * for the caller; NULL on -ENOMEM. */
struct pinmm_page *filemap_get_page(struct pinmm *eng, struct pinmm_file *s,
				  uint64_t index);

/* --- pgtable.c: walks --- */
/* The PTE table covering addr, allocating missing levels; NULL on -ENOMEM,
 * or when a PMD leaf maps addr (*huge is then set; huge may be NULL). */
struct pt_table *pte_table_alloc(struct pinmm_mm *mm, uint64_t addr, bool *huge);
/* Walk without allocating; returns the PTE table or NULL. *pmd_tbl/idx
 * tell where the PMD entry lives (for rechecks). */
struct pt_table *pte_table_lookup(struct pinmm_mm *mm, uint64_t addr,
				  struct pt_table **pmd_tbl);
/* The PMD table covering addr, allocating missing levels; NULL: -ENOMEM. */
struct pt_table *pmd_table_alloc(struct pinmm_mm *mm, uint64_t addr);
/* When a PMD leaf (THP) maps addr: its PMD table, locked; else NULL. */
struct pt_table *pmd_leaf_lock(struct pinmm_mm *mm, uint64_t addr);
/* ... a PMD leaf or a PMD migration entry (a THP migrating whole) */
struct pt_table *pmd_huge_lock(struct pinmm_mm *mm, uint64_t addr);
/* Lock whatever maps addr: its PTE table, or for a THP the PMD table that
 * holds the leaf. *i: the entry; *sub: the 4 KiB page within the leaf (0
 * for a PTE). NULL when neither exists. */
struct pt_table *entry_lock(struct pinmm_mm *mm, uint64_t addr, unsigned *i, uint64_t *sub);
/* The folio mapped at addr (by a PTE or a PMD leaf; not the zero pages),
 * with a reference; NULL and -EFAULT when none. mmap_lock held. */
struct pinmm_page *folio_get_at(struct pinmm_mm *mm, uint64_t addr, int *err);
/* Lock the PTE table for addr: walks under RCU, locks, rechecks that the
 * PMD still points at it. NULL when no table. */
struct pt_table *pte_table_lock(struct pinmm_mm *mm, uint64_t addr);
/* Free page tables of [start,end) no VMA still covers (mmap_lock held for
 * write). floor/ceiling: the neighbouring VMAs' ends. */
void free_pgtables(struct pinmm_mm *mm, uint64_t start, uint64_t end);
void free_all_pgtables(struct pinmm_mm *mm);

/* --- memory.c --- */
/* Unmap every page of [start,end) (which lies inside vma), dropping map
 * counts and references. mmap_lock held (read or write). */
void zap_page_range(struct pinmm_mm *mm, struct vm_area *vma, uint64_t start,
		    uint64_t end);
/* Tear down [start,end): zap, remove VMAs, free tables; mmap_lock write. */
int do_munmap(struct pinmm_mm *mm, uint64_t start, uint64_t len);

#define FAULT_FLAG_WRITE 0x1u
#define FAULT_FLAG_UNSHARE 0x2u	/* make a R/O anon page exclusive */
#define FAULT_FLAG_REMOTE 0x4u	/* from GUP */
#define FAULT_FLAG_FORCE 0x8u	/* FOLL_FORCE write: COW, keep R/O */
/* mmap_lock held for read. 0, -ENOMEM, -EFAULT (a swap entry the engine
 * cannot resolve yet). */
int handle_mm_fault(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr,
		    unsigned flags);
/* Whether the vma allows the access at all (-EACCES otherwise). */
int vma_access_ok(const struct vm_area *vma, bool write);

/* entry flags for a new mapping in vma (fault.c) */
pte_t vma_pte_flags(const struct vm_area *vma, bool writable);

/* check/inspect.c: pinmm_follow_page() with mmap_lock already held */
int follow_page_locked(struct pinmm_mm *mm, uint64_t addr, struct pinmm_mapping *out);

/* --- swap.c: the swap device and the swap cache --- */
/* A new slot (count 0, contents written later by swap_write_folio); -ENOMEM. */
long swap_alloc(struct pinmm *eng);
/* The first of 2^order new slots, a naturally aligned run in one cluster
 * (a large folio's); -ENOMEM when no cluster has room. */
long swap_alloc_order(struct pinmm *eng, unsigned order);
/* Entries referring to slot (__swap_count()). */
int swap_count(struct pinmm *eng, uint64_t slot);
/* Read nr slots from slot into folio, each referred to, none cached, all
 * of one zeromap state (can_swapin_thp()); -EBUSY otherwise (a large
 * swap-in that bypasses the cache). */
int swap_read_uncached(struct pinmm *eng, uint64_t slot, unsigned long nr,
		       struct pinmm_page *folio);
void swap_dup(struct pinmm *eng, uint64_t slot);	/* one more entry */
/* One entry less; the last one also empties the slot's cache. */
void swap_free(struct pinmm *eng, uint64_t slot);
/* Write folio's pages to its slots from slot, and their zeromap. */
void swap_write_folio(struct pinmm *eng, uint64_t slot, struct pinmm_page *folio);
void swap_destroy(struct pinmm *eng);
/* Reclaim: the first slot folio (anon, locked) is cached for, with one
 * count per page held for the caller; a folio not in the swap cache enters
 * it in new slots, one per page, with the cache's reference per page.
 * -ENOMEM: no slots (for a large folio: no run of them). */
long add_to_swap(struct pinmm *eng, struct pinmm_page *folio);
/* The folio cached for slot, with a reference for the caller; NULL. */
struct pinmm_page *swap_cache_get_folio(struct pinmm *eng, uint64_t slot);
/* Read slot into folio and cache it there: 0; -EEXIST when a folio is
 * cached already (*cached: it, with a reference); -ENOENT when no entry
 * refers to the slot any more. */
int swap_cache_add_new(struct pinmm *eng, uint64_t slot, struct pinmm_page *folio,
		       struct pinmm_page **cached);
/* Is folio the one cached for slot? */
bool swap_cache_holds(struct pinmm *eng, struct pinmm_page *folio, uint64_t slot);
/* Take folio out of the cache if its refcount is refs (any when refs < 0):
 * reclaim's __remove_mapping(). */
bool swap_cache_remove(struct pinmm *eng, struct pinmm_page *folio, int refs);
/* Take folio out of the cache if no entry refers to its slot. */
bool folio_free_swap(struct pinmm *eng, struct pinmm_page *folio);

/* --- swap_fault.c --- */
int do_swap_page(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
		 uint64_t addr, pte_t entry, unsigned flags);

/* --- huge_memory.c --- */
bool vma_thp_suitable(const struct vm_area *vma, uint64_t haddr);
/* deferred_split.c: split the queued partly mapped folios that nobody
 * else holds; returns how many. */
long deferred_split_scan(struct pinmm *eng);
/* Split every PMD mapping of folio through the rmap (TTU_SPLIT_HUGE_PMD). */
void folio_split_pmds(struct pinmm *eng, struct rmap_pin *rp, struct pinmm_page *folio);
/* split_folio() of a locked large folio the caller holds extra references
 * on: 0 (every page unlocked after, but the first when keep_locked), -EBUSY
 * (held by someone else, in the swap cache, or unmapped). */
int split_folio_locked(struct pinmm *eng, struct pinmm_page *folio, int extra, bool keep_locked);
/* --- mthp.c --- */
/* May a fault in vma allocate an anonymous folio of this order? */
bool thp_vma_allowable_order(const struct vm_area *vma, unsigned order);
/* Write fault of the empty PTE at addr: an mTHP for the aligned range
 * around it, mapped whole. 0 done, 1 fall back to a small page. */
int do_anonymous_mthp(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
		      uint64_t addr, unsigned flags);
void prep_anon_thp(struct pinmm_page *folio, struct vm_area *vma, uint64_t haddr);
int do_huge_pmd_anonymous_page(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr,
			       unsigned flags);
/* The huge zero page (made on first use; NULL when no 2 MiB block is
 * free), and its release at engine teardown. */
struct pinmm_page *get_huge_zero_folio(struct pinmm *eng);
void put_huge_zero_folio(struct pinmm *eng);
#define HPAGE_PMD_NR (1ul << PINMM_HPAGE_ORDER)
int do_huge_pmd_wp_page(struct pinmm *eng, struct vm_area *vma, struct pt_table *pmd,
			unsigned i, uint64_t addr, unsigned flags);
int split_huge_pmd_locked(struct pinmm *eng, struct pt_table *pmd, unsigned i);
/* split the PMD leaf mapping addr, if any (-EINVAL when none) */
int split_huge_pmd_address(struct pinmm_mm *mm, uint64_t addr);
void zap_huge_pmd(struct pinmm *eng, struct pt_table *pmd, unsigned i);
/* fork: the PMD leaf e at entry i of spmd (locked) of folio is shared with
 * the child's dpmd copy-on-write: a reference and a mapping more, neither
 * side exclusive nor writable. */
void share_pmd_leaf(struct pt_table *spmd, struct pt_table *dpmd, unsigned i, pte_t e,
		    struct pinmm_page *folio);
/* What a PMD mapping old of folio held goes: its dirty bit to the folio,
 * its entire mapcount (and the exclusive marks with the last), its
 * reference. The entry is gone already. */
void zap_pmd_folio(struct pinmm_page *folio, pte_t old);

/* --- hugetlb.c --- */
/* pages reserved for an owner's private mapping: see hugetlb.c */
int hugetlb_reserve(struct pinmm *eng, unsigned long nr);
void hugetlb_unreserve(struct pinmm *eng, unsigned long nr);
unsigned long hugetlb_resv_in(struct vm_area *vma, uint64_t start, uint64_t end);
int hugetlb_fault(struct pinmm_mm *mm, struct vm_area *vma, uint64_t addr, unsigned flags);
int copy_hugetlb_pmd(struct pinmm_mm *dst, struct vm_area *dst_vma, struct pinmm_mm *src,
		     uint64_t addr);
/* A page off the pool's free stack, refcount 1: a reserved one (the caller
 * consumes a reservation it holds), or one nobody reserved; NULL. */
struct pinmm_page *hugetlb_dequeue(struct pinmm *eng, bool reserved);

/* --- hugetlbfs.c: hugetlb files --- */
/* An empty hugetlb file of size bytes (whole 2 MiB pages: else -EINVAL). */
int hugetlbfs_file_setup(struct pinmm *eng, uint64_t size, struct pinmm_file **out);
/* A shared mapping of 4 KiB indices [from, to): the file reserves what it
 * has not yet; -ENOMEM when the pool cannot. */
int hugetlb_reserve_file(struct pinmm_file *f, uint64_t from, uint64_t to);
/* The cached huge page holding 4 KiB index index, with a reference;
 * allocated into the cache when alloc. NULL: not cached (*err 0), past
 * the end or no page to be had (*err -EFAULT, the fault's SIGBUS). */
struct pinmm_page *hugetlb_filemap_get(struct pinmm_file *f, uint64_t index, bool alloc,
				       int *err);
/* A writable mapping makes the file nr_pages long if it is shorter;
 * -ENOMEM. */
int hugetlbfs_extend(struct pinmm_file *f, uint64_t nr_pages);
/* Every page of the file allocated, each byte fill; -ENOMEM. */
int hugetlbfs_fallocate(struct pinmm_file *f, uint8_t fill);
/* The last reference went: pending reservations go back. */
void hugetlbfs_evict(struct pinmm_file *f);
int hugetlbfs_read(struct pinmm_file *f, uint64_t off, void *buf, size_t len);

/* --- huge_migrate.c: PMD migration entries --- */
/* Like pmd_leaf_lock(), but a PMD migration entry is waited out first (the
 * migrator puts a leaf back): for walkers that hold mmap_lock and no rmap
 * lock, which need the leaf itself (fault, zap, fork, mprotect, splits). */
struct pt_table *pmd_leaf_lock_wait(struct pinmm_mm *mm, uint64_t addr);
/* The PMD leaf e at entry i (lock held) of folio becomes a migration entry;
 * false (entry restored) when check_pins and the folio may be pinned. */
bool set_pmd_migration_entry(struct pinmm *eng, struct pt_table *pmd, unsigned i, pte_t e,
			     struct pinmm_page *folio, bool check_pins);
/* The way back: the migration entry swp at i maps folio (the new one, or
 * the old one when the migration is undone) by a PMD leaf again. */
void remove_migration_pmd(struct pinmm *eng, struct pt_table *pmd, unsigned i, pte_t swp,
			  struct pinmm_page *folio);

/* The folio is anon and this page of it is marked exclusive. */
static inline bool page_anon_exclusive(const struct pinmm_page *p)
{
	return page_test(p, PG_anon_exclusive);
}

/* A fresh folio becomes anonymous memory of vma at addr (Linux's
 * __folio_set_anon): PG_anon, the anon_vma as its mapping, its index. */
void folio_set_anon(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr);
/* rmap-side counting of one mapping of page by a PTE */
void page_add_anon_rmap_new(struct pinmm_page *page, struct vm_area *vma,
			    uint64_t addr);
void page_dup_rmap(struct pinmm_page *page);
void page_remove_rmap(struct pinmm_page *page);
/* drop what one present entry held (map count, reference) */
void zap_present_pte(struct pinmm *eng, pte_t old);

/* fork.c: may this folio be pinned (Linux: folio_maybe_dma_pinned) */
bool folio_maybe_dma_pinned(struct pinmm *eng, struct pinmm_page *folio);

/* mm.c */
void mm_free(struct pinmm_mm *mm);
/* The common entry of calls on one address: 0 with mmap_lock held for
 * read when a VMA covers addr; else -EINVAL (no mm), -ESRCH (exited) or
 * -EFAULT (no VMA), lock not held. */
int mm_read_lock_vma(struct pinmm_mm *mm, uint64_t addr);
struct pinmm_mm *mm_alloc(struct pinmm *eng);

static inline struct pinmm_page *eng_pfn_page(struct pinmm *eng, uint64_t pfn)
{
	return pm_pfn_to_page(&eng->mem, pfn);
}
static inline uint64_t eng_page_pfn(struct pinmm *eng, const struct pinmm_page *p)
{
	return pm_page_to_pfn(&eng->mem, p);
}
static inline uint8_t *eng_page_virt(struct pinmm *eng, const struct pinmm_page *p)
{
	return pm_pfn_to_virt(&eng->mem, pm_page_to_pfn(&eng->mem, p));
}

#endif
