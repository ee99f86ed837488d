/* SPDX-License-Identifier: MIT */
/*
 * interp_ops.c - the actions: memory, processes, CPU and device access, and
 * the system's own activity. Each is one or two engine calls; what the
 * engine answers is the statement's result.
 */
#include <errno.h>
#include <string.h>

#include "interp.h"

static void last_init(struct rt_last *l)
{
	memset(l, 0, sizeof(*l));
	l->valid = l->uniform = true;
}

static void last_add(struct rt_last *l, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++, l->len++) {
		if (l->len == 0)
			l->first = buf[i];
		else if (l->uniform && buf[i] != l->first) {
			l->uniform = false;
			l->diff = buf[i];
			l->diff_at = l->len;
		}
	}
}

int rt_load_range(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		  struct rt_last *last)
{
	uint8_t buf[512];
	int ret;

	last_init(last);
	for (uint64_t done = 0; done < len; done += sizeof(buf)) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		ret = pinmm_load(mm, addr + done, buf, n);
		if (ret) {
			last->valid = false;
			return ret;
		}
		last_add(last, buf, n);
	}
	return 0;
}

int rt_dev_read_range(const struct pinmm_pin *pin, unsigned long page,
		      uint64_t off, uint64_t len, struct rt_last *last)
{
	uint8_t buf[512];
	int ret;

	last_init(last);
	for (uint64_t done = 0; done < len; done += sizeof(buf)) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		ret = pinmm_dev_read(pin, page, off + done, buf, n);
		if (ret) {
			last->valid = false;
			return ret;
		}
		last_add(last, buf, n);
	}
	return 0;
}

/* ----------------------------------------------------------- memory --- */

/* An address range of len that nothing else uses, for mremap to move onto
 * (Linux picks one itself; pinmm's mremap needs MREMAP_FIXED to be sure
 * the range really moves). 2M-aligned for ranges that may hold THPs. */
static int reserve(struct pinmm_mm *mm, uint64_t len, bool huge, uint64_t *out)
{
	return pinmm_mmap(mm, 0, len, PINMM_PROT_NONE,
			  PINMM_MAP_PRIVATE | (huge ? PINMM_MAP_ALIGN_2M : 0), out);
}

static int do_mmap(struct rt *rt, struct pinmm_mm *mm, const struct stmt *st)
{
	uint64_t size = st->mmap.size, align = st->mmap.align, addr = 0, out = 0;
	unsigned flags = st->mmap.shared ? PINMM_MAP_SHARED : PINMM_MAP_PRIVATE;
	uint64_t slop = 0;
	int ret;

	if (st->mmap.populate)
		flags |= PINMM_MAP_POPULATE;
	if (st->mmap.hugetlb)
		flags |= PINMM_MAP_HUGETLB;
	if (st->mmap.thp)
		flags |= st->mmap.thp > 0 ? PINMM_MAP_HUGEPAGE : PINMM_MAP_NOHUGEPAGE;
	if (st->mmap.fixed) {
		addr = rt_addr(rt, st->mmap.at);
		flags |= PINMM_MAP_FIXED;
	} else if (align == PINMM_PMD_SIZE || size >= PINMM_PMD_SIZE ||
		   st->mmap.thp > 0) {
		flags |= PINMM_MAP_ALIGN_2M;
	} else if (align > PINMM_PAGE_SIZE) {
		/* another alignment: take a larger range and map into it */
		ret = reserve(mm, size + align, false, &addr);
		if (ret)
			return ret;
		slop = addr;
		addr = (addr + align - 1) & ~(align - 1);
		flags |= PINMM_MAP_FIXED;
	}
	if (st->mmap.file >= 0)
		ret = pinmm_mmap_file(mm, addr, size, st->mmap.prot, flags,
				      rt->files[st->mmap.file], st->mmap.off, &out);
	else
		ret = pinmm_mmap(mm, addr, size, st->mmap.prot, flags, &out);
	if (slop) {	/* unmap what is left of the larger range around it */
		pinmm_munmap(mm, slop, addr - slop);
		if (!ret)
			pinmm_munmap(mm, addr + size, slop + size + align - addr - size);
		else
			pinmm_munmap(mm, addr, slop + size + align - addr);
	}
	if (!ret) {
		pthread_mutex_lock(&rt->lock);
		rt->regions[st->mmap.region] = (struct rt_region){ out, size };
		pthread_mutex_unlock(&rt->lock);
	}
	return ret;
}

/* After [from+off, +len) of proc moved to region to: pins taken there in
 * that process follow their pages. */
static void pins_follow(struct rt *rt, int proc, int from, int64_t off,
			uint64_t len, int to)
{
	const struct pinmm_scenario *scn = rt->scn;

	pthread_mutex_lock(&rt->lock);
	for (unsigned i = 0; i < scn->names[NS_PIN].nr; i++) {
		struct rt_pin *p = &rt->pins[i];

		if (p->taken && p->proc == proc && p->region == from &&
		    p->off >= off && (uint64_t)(p->off - off) < len) {
			p->region = to;
			p->off -= off;
		}
	}
	pthread_mutex_unlock(&rt->lock);
}

static int do_mremap(struct rt *rt, struct pinmm_mm *mm, const struct stmt *st)
{
	struct rt_region from;
	uint64_t addr, len, new_len, dst, out;
	unsigned flags = PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED;
	int64_t off = 0;
	int region, to, ret;

	pthread_mutex_lock(&rt->lock);
	if (st->kind == ST_MREMAP) {
		region = st->mremap.from;
		to = st->mremap.to;
		from = rt->regions[region];
		addr = from.addr;
		len = from.len;
		new_len = st->mremap.has_size ? st->mremap.size : len;
	} else {
		region = st->mremap_part.a.region;
		to = st->mremap_part.to;
		off = st->mremap_part.a.off;
		addr = rt->regions[region].addr + (uint64_t)off;
		len = new_len = st->mremap_part.len;
		if (st->mremap_part.dontunmap)
			flags |= PINMM_MREMAP_DONTUNMAP;
	}
	pthread_mutex_unlock(&rt->lock);

	ret = reserve(mm, new_len, !(addr & (PINMM_PMD_SIZE - 1)) &&
			  new_len >= PINMM_PMD_SIZE, &dst);
	if (ret)
		return ret;
	ret = pinmm_mremap(mm, addr, len, new_len, flags, dst, &out);
	if (ret) {
		pinmm_munmap(mm, dst, new_len);
		return ret;
	}
	pthread_mutex_lock(&rt->lock);
	rt->regions[to] = (struct rt_region){ out, new_len };
	pthread_mutex_unlock(&rt->lock);
	pins_follow(rt, st->proc, region, off, len, to);
	return 0;
}

static int do_fork(struct rt *rt, struct pinmm_mm *mm, const struct stmt *st)
{
	struct pinmm_mm *child;
	int ret = pinmm_fork(mm, &child);

	if (!ret) {
		pthread_mutex_lock(&rt->lock);
		rt->procs[st->who.proc].mm = child;
		pthread_mutex_unlock(&rt->lock);
	}
	return ret;
}

static int do_exit(struct rt *rt, const struct stmt *st)
{
	struct rt_proc *p = &rt->procs[st->who.proc];
	struct pinmm_mm *mm;

	pthread_mutex_lock(&rt->lock);
	mm = p->exited ? NULL : p->mm;
	if (mm)
		p->exited = true;
	pthread_mutex_unlock(&rt->lock);
	if (!mm)
		return -ESRCH;
	pinmm_mm_exit(mm);
	return 0;
}

/* ------------------------------------------------------------ pins --- */

static int do_pin(struct rt *rt, struct pinmm_mm *mm, const struct stmt *st)
{
	struct rt_pin *p = &rt->pins[st->pin.pin];
	uint64_t addr = rt_addr(rt, st->pin.a);
	int ret;

	/* a released handle is reused; a held one the engine refuses */
	if (!pinmm_pin_held(&p->h))
		memset(&p->h, 0, sizeof(p->h));
	if (st->pin.get)
		ret = pinmm_get(mm, &p->h, addr, st->pin.pages, st->pin.flags,
				st->pin.fast, p->pages);
	else
		ret = pinmm_pin(mm, &p->h, addr, st->pin.pages, st->pin.flags,
				st->pin.fast, p->pages);
	if (!ret) {
		pthread_mutex_lock(&rt->lock);
		p->region = st->pin.a.region;
		p->off = st->pin.a.off;
		p->proc = st->proc;
		p->line = st->line;
		p->taken = true;
		pthread_mutex_unlock(&rt->lock);
	}
	return ret;
}

/* A FOLL_FORCE store, as a debugger's write to /proc/PID/mem. */
static int force_write(struct pinmm_mm *mm, uint64_t addr, uint8_t byte, uint64_t len)
{
	uint8_t buf[512];

	memset(buf, byte, sizeof(buf));
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		long r = pinmm_access_remote(mm, addr + done, buf, n,
					     PINMM_FOLL_WRITE | PINMM_FOLL_FORCE);

		if (r < 0)
			return (int)r;
		done += (uint64_t)r;
	}
	return 0;
}

static int dev_write(struct rt *rt, const struct stmt *st)
{
	struct rt_pin *p = &rt->pins[st->dev.pin];

	/* one DMA, across the pin's pages as far as it runs */
	return pinmm_dev_fill(&p->h, st->dev.page, st->dev.off, st->dev.byte, st->dev.len);
}

/* ------------------------------------------------------------ all --- */

static int daemon_pass(long ret)
{
	return ret < 0 ? (int)ret : 0;
}

int rt_action(struct rt_ctx *ctx, const struct stmt *st)
{
	struct rt *rt = ctx->rt;
	struct pinmm_mm *mm = rt_mm(rt, st->proc);
	struct pinmm_stats stats;

	/* a process forked by a thread that has not run yet */
	if (!mm && st->kind != ST_FILE && st->kind != ST_KSM_SCAN &&
	    st->kind != ST_KHUGEPAGED && st->kind != ST_COMPACT && st->kind != ST_WRITEBACK &&
	    st->kind != ST_RECLAIM)
		return -ESRCH;
	switch (st->kind) {
	case ST_MMAP:
		return do_mmap(rt, mm, st);
	case ST_FILE:
		return pinmm_file_create_kind(rt->eng, st->file.size, st->file.fill,
					      st->file.disk ? PINMM_FILE_DISK :
					      st->file.hugetlb ? PINMM_FILE_HUGETLB : PINMM_FILE_SHMEM,
					      &rt->files[st->file.file]);
	case ST_MUNMAP:
		return pinmm_munmap(mm, rt_addr(rt, st->range.a), st->range.len);
	case ST_MREMAP:
	case ST_MREMAP_PART:
		return do_mremap(rt, mm, st);
	case ST_MPROTECT:
		return pinmm_mprotect(mm, rt_addr(rt, st->range.a), st->range.len,
				      st->range.prot);
	case ST_MADVISE:
		return pinmm_madvise(mm, rt_addr(rt, st->range.a), st->range.len,
				     st->range.advice);
	case ST_FORK:
		return do_fork(rt, mm, st);
	case ST_EXIT:
		return do_exit(rt, st);
	case ST_WRITE:
		if (st->cpu.force)
			return force_write(mm, rt_addr(rt, st->cpu.a), st->cpu.byte, st->cpu.len);
		return pinmm_store_fill(mm, rt_addr(rt, st->cpu.a), st->cpu.byte,
					st->cpu.len);
	case ST_READ:
		return rt_load_range(mm, rt_addr(rt, st->cpu.a), st->cpu.len,
				     &ctx->read);
	case ST_PIN:
		return do_pin(rt, mm, st);
	case ST_UNPIN:
		return pinmm_unpin(&rt->pins[st->dev.pin].h);
	case ST_PUT:
		return pinmm_put(&rt->pins[st->dev.pin].h);
	case ST_DEV_WRITE:
		return dev_write(rt, st);
	case ST_DEV_READ:
		return rt_dev_read_range(&rt->pins[st->dev.pin].h, st->dev.page,
					 st->dev.off, st->dev.len, &ctx->dev_read);
	case ST_KSM_SCAN:
		return daemon_pass(pinmm_ksm_scan(rt->eng, (unsigned)st->pass.n));
	case ST_KHUGEPAGED:
		return daemon_pass(pinmm_khugepaged_scan(rt->eng, (unsigned)st->pass.n));
	case ST_COMPACT:
		return daemon_pass(pinmm_compact(rt->eng));
	case ST_RECLAIM:
		pinmm_get_stats(rt->eng, &stats);
		return daemon_pass(pinmm_reclaim(rt->eng, st->pass.n ? st->pass.n
					: stats.frames_total[PINMM_ZONE_NORMAL] +
					  stats.frames_total[PINMM_ZONE_MOVABLE]));
	case ST_MIGRATE:
		return pinmm_migrate(mm, rt_addr(rt, st->at.a));
	case ST_NUMA_HINT:
		return pinmm_numa_hint(mm, rt_addr(rt, st->at.a));
	case ST_SPLIT_PMD:
		return pinmm_split_pmd(mm, rt_addr(rt, st->at.a));
	case ST_SPLIT_FOLIO:
		return pinmm_split_folio(mm, rt_addr(rt, st->at.a));
	case ST_UPROBE_REGISTER:
	case ST_UPROBE_UNREGISTER:
		if (!rt->files[st->uprobe.file])
			return -EINVAL;
		return st->kind == ST_UPROBE_REGISTER
			? pinmm_uprobe_register(rt->files[st->uprobe.file], st->uprobe.off)
			: pinmm_uprobe_unregister(rt->files[st->uprobe.file], st->uprobe.off);
	case ST_WRITEBACK: {
		long n = pinmm_file_writeback(rt->files[st->uprobe.file]);
		return n < 0 ? (int)n : 0;
	}
	default:
		return -EINVAL;	/* not an action: the parser does not allow it */
	}
}
