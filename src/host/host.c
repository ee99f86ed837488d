/* SPDX-License-Identifier: MIT */

/* messages are cut to the result's fixed sizes on purpose (GCC's warning;
 * clang has none by that name) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
/*
 * host.c - the host backend's controller: runs a parsed scenario against
 * the running kernel (include/pinmm/host.h, docs/host-conformance.md).
 *
 * The controller holds the devices: each R/W pin is an io_uring ring of its
 * own, created here and handed to the worker of the pinning process, which
 * registers the buffer (pin_user_pages with FOLL_WRITE | FOLL_LONGTERM on
 * its own mm) and closes its copy. The registration belongs to the ring, so
 * the pin outlives the process that took it, as a device's does; device
 * writes are READ_FIXED from a temp file into the buffer, device reads
 * WRITE_FIXED out of it. Statements that the kernel cannot express end the
 * run as skipped with the reason; expectations it cannot observe are
 * skipped one by one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <json-c/json.h>

#include <pinmm/gup.h>
#include <pinmm/host.h>

#include "../lang/ast.h"
#include "host.h"
#include "../scenario/observe.h"
#include "../report/report.h"

#define PG 4096ul
#define PM_PRESENT (1ull << 63)
#define PM_SWAP (1ull << 62)
#define PM_FILE (1ull << 61)		/* a page-cache page, or shared anonymous */
#define PM_EXCLUSIVE (1ull << 56)	/* mapped by this process only */
#define PM_PFN ((1ull << 55) - 1)
#define KPF_KSM 21
#define KPF_THP 22
#define KPF_ZERO_PAGE 24
#define KPF_HUGE 17	/* a hugetlb page */

enum hpin_kind { HP_NONE, HP_RING, HP_SNAP, HP_SPLICE };

struct hpin {
	enum hpin_kind kind;
	bool held, ring_ok;
	struct io_uring ring;
	uint64_t reg_addr;		/* the address the buffer was registered at */
	unsigned long pages;
	uint64_t *pfn;			/* at pin time */
	int proc, region;
	int64_t off;
	int fd;				/* snapshot file or pipe */
	char path[H_PATHLEN];
	unsigned line;
};

struct hproc {
	int sock;
	pid_t pid;
	bool started, exited;
};


struct host {
	const struct pinmm_scenario *scn;
	const struct pinmm_host_options *opt;
	struct pinmm_host_result *res;
	struct hproc *procs;
	struct { uint64_t addr, len; bool disk_shared, anon_private; } *regions;
	struct hpin *pins;
	char (*files)[H_PATHLEN];
	int *memfds;			/* shmem files: memfds held open, else -1 */
	char tmp[H_PATHLEN - 40];
	char devpath[H_PATHLEN];
	int devfd;
	struct rt_last *read, *dev_read;	/* per flow: main, then each thread */
	bool *pending;
	bool stop, skipped;
	bool killed;			/* main, from outside */
	char hugetlb_short[120];	/* why hugetlb memory cannot be had */
	uint8_t fresh;
	struct hrep rep;
};

/* Is a swap device active (a line past /proc/swaps' header)? */
static bool host_has_swap(void)
{
	char line[256];
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1;
}

/* ------------------------------------------------------ reporting --- */

static void vrecord(struct host *h, unsigned line, const char *text,
		    const char *fmt, va_list ap)
{
	struct pinmm_scn_result *r = &h->res->scn;
	char what[PINMM_SCN_MSGLEN];

	vsnprintf(what, sizeof(what), fmt, ap);
	r->nr_failures++;
	if (r->nr_msgs < PINMM_SCN_MAX_MSGS &&
	    snprintf(r->msgs[r->nr_msgs++], PINMM_SCN_MSGLEN, "%s:%u: %s: %s",
		     h->scn->file, line, text, what) >= PINMM_SCN_MSGLEN)
		r->msgs[r->nr_msgs - 1][PINMM_SCN_MSGLEN - 2] = '~';
	if (h->opt->trace)
		fprintf(h->opt->trace, "  FAILED %s:%u: %s: %s\n", h->scn->file, line,
			text, what);
}

__attribute__((format(printf, 3, 4)))
static void fail(struct host *h, const struct stmt *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(h, st->line, st->text, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void fail_at(struct host *h, unsigned line, const char *text, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(h, line, text, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static void note(struct host *h, bool once, const char *fmt, ...)
{
	struct pinmm_host_result *r = h->res;
	char buf[PINMM_SCN_MSGLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (unsigned i = 0; once && i < r->nr_notes; i++)
		if (!strcmp(r->notes[i], buf))
			return;
	if (r->nr_notes < PINMM_HOST_MAX_NOTES)
		snprintf(r->notes[r->nr_notes++], PINMM_SCN_MSGLEN, "%s", buf);
	if (h->opt->trace)
		fprintf(h->opt->trace, "  note: %s\n", buf);
}

/* The kernel cannot express this action: the run ends here, skipped. */
__attribute__((format(printf, 3, 4)))
static int skip(struct host *h, const struct stmt *st, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!h->skipped)
		snprintf(h->res->skip, sizeof(h->res->skip), "%s (%s:%u): %s", st->text,
			 h->scn->file, st->line, why);
	h->skipped = true;
	h->stop = true;
	if (h->opt->trace)
		fprintf(h->opt->trace, "  SKIP %s:%u: %s: %s\n", h->scn->file, st->line,
			st->text, why);
	return -EOPNOTSUPP;
}

static void trace(struct host *h, const struct stmt *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void trace(struct host *h, const struct stmt *st, const char *fmt, ...)
{
	va_list ap;

	if (!h->opt->trace)
		return;
	fprintf(h->opt->trace, "[host] %s:%u: %s -> ", h->scn->file, st->line, st->text);
	va_start(ap, fmt);
	vfprintf(h->opt->trace, fmt, ap);
	va_end(ap);
	fputc('\n', h->opt->trace);
}

static const char *errname(int err)
{
	const char *s = pm_errno_name(err < 0 ? -err : err);

	if (!s)
		s = strerrorname_np(err < 0 ? -err : err);
	return s ? s : "unknown error";
}

/* ------------------------------------------------------ processes --- */

/* One command to a worker: 0 or -errno (its answer), -ESRCH when the
 * process does not exist (yet, or any more), -EPIPE when it died. */
static int call(struct host *h, int proc, struct hcmd *c, int send_fd, int *recv_fd)
{
	struct hproc *p = &h->procs[proc];
	ssize_t n;

	if (recv_fd)
		*recv_fd = -1;
	if (!p->started || p->exited)
		return -ESRCH;
	if (pm_host_send(p->sock, c, sizeof(*c), send_fd) < 0)
		return -EPIPE;
	n = pm_host_recv(p->sock, &h->rep, sizeof(h->rep), recv_fd);
	if (n != (ssize_t)sizeof(h->rep)) {
		p->exited = true;
		return -EPIPE;
	}
	return -h->rep.err;
}

static int start_main(struct host *h)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(sp[0]);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		pm_host_guard_child();
		pm_host_worker(sp[1]);
	}
	close(sp[1]);
	setpgid(pid, pid);	/* both sides: no race with the first kill */
	pm_host_guard_pgid(pid);
	h->procs[0] = (struct hproc){ .sock = sp[0], .pid = pid, .started = true };
	return 0;
}

static void stop_all(struct host *h)
{
	struct hcmd c = { .op = H_EXIT };
	unsigned n = h->scn->names[NS_PROC].nr;

	for (unsigned i = n; i-- > 0;) {
		if (h->procs[i].started && !h->procs[i].exited)
			call(h, (int)i, &c, -1, NULL);
		if (h->procs[i].started)
			close(h->procs[i].sock);
		h->procs[i].exited = true;
	}
	if (h->procs[0].pid > 0)
		kill(-h->procs[0].pid, SIGKILL);
	pm_host_guard_pgid(0);
	/* the main worker, and every orphan (we are their subreaper) */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

/* main killed from outside (the OOM killer, kill -9) while the controller
 * does not talk to it (ksm-scan): reaped here, so that the run stops (and
 * restores as always) */
static bool main_killed(struct host *h)
{
	struct hproc *p = &h->procs[0];

	if (!p->started || p->exited || waitpid(p->pid, NULL, WNOHANG) != p->pid)
		return false;
	p->exited = true;
	h->killed = true;
	return true;
}

/* ---------------------------------------------------------- device --- */

/*
 * One fixed-buffer transfer of n bytes between the device file and the
 * pin's buffer at off: READ_FIXED fills the buffer (a device write),
 * WRITE_FIXED drains it (a device read). 0, or the error.
 */
static int ring_transfer(struct host *h, struct hpin *p, uint64_t off, unsigned n,
			 bool into_buffer)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
	struct io_uring_cqe *cqe;
	void *at = (void *)(p->reg_addr + off);
	int ret;

	if (into_buffer)
		io_uring_prep_read_fixed(sqe, h->devfd, at, n, 0, 0);
	else
		io_uring_prep_write_fixed(sqe, h->devfd, at, n, 0, 0);
	io_uring_submit(&p->ring);
	ret = io_uring_wait_cqe(&p->ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&p->ring, cqe);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	return 0;
}

/* the device writes len bytes of byte at offset off of the pin's buffer */
static int dev_write(struct host *h, struct hpin *p, uint64_t off, uint8_t byte,
		     uint64_t len)
{
	static uint8_t buf[1 << 16];
	int ret;

	if (p->kind != HP_RING)
		return -EPERM;	/* no device writes through a R/O reference */
	if (off + len > p->pages * PG)
		return -EINVAL;
	for (uint64_t done = 0; done < len; done += sizeof(buf)) {
		uint64_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		memset(buf, byte, n);
		if (pwrite(h->devfd, buf, n, 0) != (ssize_t)n)
			return -EIO;
		ret = ring_transfer(h, p, off + done, (unsigned)n, true);
		if (ret)
			return ret;
	}
	return 0;
}

static void last_add(struct rt_last *l, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++, l->len++) {
		if (l->len == 0)
			l->first = b[i];
		else if (l->uniform && b[i] != l->first) {
			l->uniform = false;
			l->diff = b[i];
			l->diff_at = l->len;
		}
	}
}

/* the device reads [off, off+len) of the pin */
static int dev_read(struct host *h, struct hpin *p, uint64_t off, uint64_t len,
		    struct rt_last *l)
{
	static uint8_t buf[1 << 16];
	int ret;

	memset(l, 0, sizeof(*l));
	l->uniform = true;
	if (off + len > p->pages * PG)
		return -EINVAL;
	if (p->kind == HP_SPLICE) {
		/* the pipe holds the pages: tee a copy out, read that */
		int q[2];
		uint64_t total = p->pages * PG, got = 0;

		if (pipe2(q, O_CLOEXEC))
			return -errno;
		fcntl(q[0], F_SETPIPE_SZ, (int)(total > 65536 ? total : 65536));
		ssize_t t = tee(p->fd, q[1], total, SPLICE_F_NONBLOCK);
		close(q[1]);
		if (t != (ssize_t)total) {
			close(q[0]);
			return t < 0 ? -errno : -EIO;
		}
		while (got < total) {
			ssize_t n = read(q[0], buf, sizeof(buf));

			if (n <= 0)
				break;
			for (uint64_t i = 0; i < (uint64_t)n; i++)
				if (got + i >= off && got + i < off + len)
					last_add(l, &buf[i], 1);
			got += (uint64_t)n;
		}
		close(q[0]);
		l->valid = got == total;
		return l->valid ? 0 : -EIO;
	}
	for (uint64_t done = 0; done < len; done += sizeof(buf)) {
		uint64_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		if (p->kind == HP_RING) {
			ret = ring_transfer(h, p, off + done, (unsigned)n, false);
			if (ret)
				return ret;
			if (pread(h->devfd, buf, n, 0) != (ssize_t)n)
				return -EIO;
		} else if (pread(p->fd, buf, n, (off_t)(off + done)) != (ssize_t)n) {
			return -EIO;
		}
		last_add(l, buf, n);
	}
	l->valid = true;
	return 0;
}

/* ------------------------------------------------------- helpers --- */

static uint64_t addr_of(struct host *h, struct scn_addr a)
{
	return h->regions[a.region].addr + (uint64_t)a.off;
}

static int prot_of(unsigned p)
{
	return (p & PINMM_PROT_READ ? PROT_READ : 0) | (p & PINMM_PROT_WRITE ? PROT_WRITE : 0) |
	       (p & PINMM_PROT_EXEC ? PROT_EXEC : 0);
}

static int read_pagemap(struct host *h, int proc, uint64_t addr, unsigned long n,
			uint64_t *out)
{
	for (unsigned long done = 0; done < n; done += H_DATA) {
		struct hcmd c = { .op = H_PAGEMAP, .addr = addr + done * PG,
				  .len = n - done };
		int ret = call(h, proc, &c, -1, NULL);

		if (ret)
			return ret;
		memcpy(out + done, h->rep.data, h->rep.n * 8);
	}
	return 0;
}

static int tmp_file(struct host *h, char *path, size_t len, const char *what, int i)
{
	snprintf(path, len, "%s/%s-%d", h->tmp, what, i);
	return 0;
}

/* -------------------------------------------------------- actions --- */

static int do_mmap(struct host *h, const struct stmt *st)
{
	struct hcmd c = { .op = H_MMAP, .len = st->mmap.size, .off = st->mmap.off,
			  .align = st->mmap.align, .prot = prot_of(st->mmap.prot) };
	int ret;

	if (st->mmap.shared)
		c.flags |= H_MMAP_SHARED;
	if (st->mmap.populate)
		c.flags |= H_MMAP_POPULATE;
	if (st->mmap.thp > 0)
		c.flags |= H_MMAP_THP;
	if (st->mmap.thp < 0)
		c.flags |= H_MMAP_NOTHP;
	if (st->mmap.hugetlb) {
		if (h->hugetlb_short[0])
			return skip(h, st, "%s", h->hugetlb_short);
		c.flags |= H_MMAP_HUGETLB;
	}
	if (st->mmap.fixed) {
		c.flags |= H_MMAP_FIXED;
		c.addr = addr_of(h, st->mmap.at);
	}
	if (st->mmap.file >= 0) {
		if (!h->files[st->mmap.file][0])
			return -EINVAL;
		snprintf(c.path, sizeof(c.path), "%s", h->files[st->mmap.file]);
	}
	ret = call(h, st->proc, &c, -1, NULL);
	if (!ret) {
		h->regions[st->mmap.region].addr = h->rep.addr;
		h->regions[st->mmap.region].len = st->mmap.size;
		/* a shared mapping of a disk file (no memfd behind it) */
		h->regions[st->mmap.region].disk_shared =
			st->mmap.shared && st->mmap.file >= 0 && h->memfds[st->mmap.file] < 0;
		h->regions[st->mmap.region].anon_private = !st->mmap.shared && st->mmap.file < 0;
	}
	return ret;
}

/*
 * A hugetlb file: a memfd made with MFD_HUGETLB (2 MiB pages, the default
 * size), sized and fallocated whole from the run's pool, filled through a
 * shared mapping (hugetlbfs has no write(2)). The pool's shortfall is the
 * engine's ENOMEM, as fallocate's ENOSPC.
 */
static int hugetlb_file(struct host *h, const struct stmt *st)
{
	int fd;
	void *p;

	if (h->hugetlb_short[0])
		return skip(h, st, "%s", h->hugetlb_short);
	fd = memfd_create("pinmm-file", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0)
		return -errno;
	h->memfds[st->file.file] = fd;
	snprintf(h->files[st->file.file], H_PATHLEN, "/proc/%d/fd/%d", (int)getpid(), fd);
	if (ftruncate(fd, (off_t)st->file.size))
		return -errno;
	if (fallocate(fd, 0, 0, (off_t)st->file.size))
		return errno == ENOSPC ? -ENOMEM : -errno;
	if (!st->file.fill)
		return 0;
	p = mmap(NULL, st->file.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	memset(p, st->file.fill, st->file.size);
	munmap(p, st->file.size);
	return 0;
}

/*
 * A scenario's file, on the kind of file system it names: shmem is a
 * memfd (workers open it through this process's /proc/PID/fd, so nothing
 * is left on any file system), disk a file in the run's temp dir, which
 * must then be on a disk file system (ext4 tracks dirty pages; tmpfs does
 * not and would answer differently).
 */
static int do_file(struct host *h, const struct stmt *st)
{
	char *path = h->files[st->file.file];
	static uint8_t buf[1 << 16];
	struct statfs sfs;
	int fd;

	if (st->file.hugetlb)
		return hugetlb_file(h, st);
	if (!st->file.disk) {
		fd = memfd_create("pinmm-file", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		h->memfds[st->file.file] = fd;
		snprintf(path, H_PATHLEN, "/proc/%d/fd/%d", (int)getpid(), fd);
		fd = dup(fd);
		if (fd < 0)
			return -errno;
	} else {
		if (statfs(h->tmp, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC)
			return skip(h, st, "a disk file, but the run's temp dir %s is on tmpfs "
				    "(set PINMM_HOST_TMPDIR to a directory on a disk file system)",
				    h->tmp);
		tmp_file(h, path, H_PATHLEN, "file", st->file.file);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	memset(buf, st->file.fill, sizeof(buf));
	for (uint64_t done = 0; done < st->file.size; done += sizeof(buf)) {
		uint64_t n = st->file.size - done < sizeof(buf) ? st->file.size - done : sizeof(buf);

		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

static void pins_follow(struct host *h, int proc, int from, int64_t off, uint64_t len,
			int to)
{
	for (unsigned i = 0; i < h->scn->names[NS_PIN].nr; i++) {
		struct hpin *p = &h->pins[i];

		if (p->kind != HP_NONE && p->proc == proc && p->region == from &&
		    p->off >= off && (uint64_t)(p->off - off) < len) {
			p->region = to;
			p->off -= off;
		}
	}
}

static int do_mremap(struct host *h, const struct stmt *st)
{
	struct hcmd c = { .op = H_MREMAP };
	int region, to, ret;
	int64_t off = 0;

	if (st->kind == ST_MREMAP) {
		region = st->mremap.from;
		to = st->mremap.to;
		c.addr = h->regions[region].addr;
		c.len = h->regions[region].len;
		c.len2 = st->mremap.has_size ? st->mremap.size : c.len;
	} else {
		region = st->mremap_part.a.region;
		to = st->mremap_part.to;
		off = st->mremap_part.a.off;
		c.addr = h->regions[region].addr + (uint64_t)off;
		c.len = c.len2 = st->mremap_part.len;
		if (st->mremap_part.dontunmap)
			c.flags |= H_MREMAP_DONTUNMAP;
	}
	ret = call(h, st->proc, &c, -1, NULL);
	if (ret)
		return ret;
	h->regions[to].addr = h->rep.addr;
	h->regions[to].len = c.len2;
	h->regions[to].disk_shared = h->regions[region].disk_shared;
	h->regions[to].anon_private = h->regions[region].anon_private;
	pins_follow(h, st->proc, region, off, c.len, to);
	return 0;
}

static int do_fork(struct host *h, const struct stmt *st)
{
	struct hcmd c = { .op = H_FORK };
	int fd, ret = call(h, st->proc, &c, -1, &fd);

	if (ret)
		return ret;
	if (fd < 0)
		return -EPIPE;
	h->procs[st->who.proc] = (struct hproc){ .sock = fd, .pid = (pid_t)h->rep.v[0],
						 .started = true };
	return 0;
}

/* Until pid has left do_exit()'s exit_mm(): a zombie, or reaped (its
 * parent is another worker, so no waitpid here). The engine's exit unmaps
 * at once; a write after `exit` must not race with the child's teardown. */
static void wait_exited(pid_t pid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int tries = 0; tries < 5000; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		const char *state;

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return;		/* reaped */
		buf[n] = '\0';
		state = strrchr(buf, ')');
		if (!state || state[1] != ' ' || state[2] == 'Z' || state[2] == 'X')
			return;
		usleep(1000);
	}
}

static int do_exit(struct host *h, const struct stmt *st)
{
	struct hproc *p = &h->procs[st->who.proc];
	struct hcmd c = { .op = H_EXIT };
	int ret;

	if (!p->started || p->exited)
		return -ESRCH;
	ret = call(h, st->who.proc, &c, -1, NULL);
	close(p->sock);
	p->exited = true;
	wait_exited(p->pid);
	return ret == -EPIPE ? 0 : ret;
}

static const int advice_of[PINMM_MADV_NR] = {
	[PINMM_MADV_DONTNEED] = MADV_DONTNEED, [PINMM_MADV_FREE] = MADV_FREE,
	[PINMM_MADV_DONTFORK] = MADV_DONTFORK, [PINMM_MADV_DOFORK] = MADV_DOFORK,
	[PINMM_MADV_MERGEABLE] = MADV_MERGEABLE, [PINMM_MADV_UNMERGEABLE] = MADV_UNMERGEABLE,
	[PINMM_MADV_HUGEPAGE] = MADV_HUGEPAGE, [PINMM_MADV_NOHUGEPAGE] = MADV_NOHUGEPAGE,
	[PINMM_MADV_COLLAPSE] = 25 /* MADV_COLLAPSE */, [PINMM_MADV_PAGEOUT] = 21,
};

static void release_pin(struct hpin *p)
{
	if (p->kind == HP_RING && p->ring_ok) {
		io_uring_queue_exit(&p->ring);
		p->ring_ok = false;
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->held = false;
}

static int do_pin(struct host *h, const struct stmt *st)
{
	struct hpin *p = &h->pins[st->pin.pin];
	uint64_t addr = addr_of(h, st->pin.a), len = st->pin.pages * PG;
	bool rw = st->pin.flags & PINMM_FOLL_WRITE, lt = st->pin.flags & PINMM_FOLL_LONGTERM;
	struct hcmd c = { .addr = addr, .len = len };
	int ret, fd;

	if (p->held)
		return skip(h, st, "a second pin on a held handle: the kernel has no handles");
	if (st->pin.flags & PINMM_FOLL_FORCE)
		return skip(h, st, "FOLL_FORCE pins: no user-space interface (only ptrace's /proc/PID/mem copies)");
	release_pin(p);
	free(p->pfn);
	p->pfn = NULL;
	p->kind = HP_NONE;
	if (st->pin.get) {
		if (rw)
			return skip(h, st, "a R/W FOLL_GET reference: no user-space interface (O_DIRECT takes FOLL_PIN)");
		c.op = H_VMSPLICE;
		ret = call(h, st->proc, &c, -1, &fd);
		if (ret)
			return ret;
		p->kind = HP_SPLICE;
		p->fd = fd;
		note(h, true, "get: vmsplice into a pipe (FOLL_GET references held by the pipe)");
	} else if (!rw && lt) {
		return skip(h, st, "a R/O FOLL_LONGTERM pin: no user-space interface on this kernel "
			    "(io_uring fixed buffers are always FOLL_WRITE; RDMA/VFIO absent)");
	} else if (!lt && h->regions[st->pin.a.region].disk_shared) {
		return skip(h, st, "a short-term R/W pin of a shared mapping of a disk file: the "
			    "host holds R/W pins as io_uring fixed buffers, which are longterm, "
			    "and Linux refuses those there (EFAULT)");
	} else if (!rw) {
		c.op = H_ODIRECT;
		tmp_file(h, c.path, sizeof(c.path), "snap", st->pin.pin);
		ret = call(h, st->proc, &c, -1, NULL);
		if (ret)
			return ret;
		p->fd = open(c.path, O_RDONLY | O_CLOEXEC);
		if (p->fd < 0)
			return -errno;
		p->kind = HP_SNAP;
		note(h, true, "short-term R/O pin: an O_DIRECT write of the range (the device reads it at pin time)");
	} else {
		ret = io_uring_queue_init(4, &p->ring, 0);
		if (ret)
			return ret;
		p->ring_ok = true;
		p->kind = HP_RING;
		c.op = H_REGISTER;
		c.off = (uint64_t)p->ring.ring_fd;
		c.align = (uint64_t)getpid();
		ret = call(h, st->proc, &c, -1, NULL);
		if (ret) {
			release_pin(p);
			p->kind = HP_NONE;
			return ret;
		}
		if (!lt)
			note(h, true, "short-term R/W pin held as an io_uring fixed buffer "
			     "(FOLL_LONGTERM too: the kernel holds no short-term pin across system calls)");
		p->pfn = calloc(st->pin.pages, sizeof(*p->pfn));
		if (!p->pfn)
			return -ENOMEM;
		ret = read_pagemap(h, st->proc, addr, st->pin.pages, p->pfn);
		if (ret)
			return ret;
	}
	p->held = true;
	p->reg_addr = addr;
	p->pages = st->pin.pages;
	p->proc = st->proc;
	p->region = st->pin.a.region;
	p->off = st->pin.a.off;
	p->line = st->line;
	return 0;
}

static int do_unpin(struct host *h, const struct stmt *st)
{
	struct hpin *p = &h->pins[st->dev.pin];
	bool put = st->kind == ST_PUT, is_get = p->kind == HP_SPLICE;

	if (!p->held || put != is_get)
		return skip(h, st, "release of a handle that is not held as that kind: "
			    "the kernel has no pin handles to refuse it with");
	if (p->kind == HP_RING) {
		int ret = io_uring_unregister_buffers(&p->ring);

		if (ret)
			return ret;
	}
	release_pin(p);
	return 0;
}

/* ksm-scan passes=N: let ksmd make 8N + 16 full scans at full speed, then
 * stop it again. Its passes are not the engine's: a new mm joins the scan
 * list behind the cursor, a page enters the unstable tree only once its
 * checksum held for a scan and merges on a later one; measured here, 5
 * scans were too few for two pages, 20 enough. */
static int do_ksm(struct host *h, const struct stmt *st)
{
	const char *full = "/sys/kernel/mm/ksm/full_scans";
	unsigned long passes = st->pass.n ? st->pass.n : 2;
	long start;
	int ret;

	if (access("/sys/kernel/mm/ksm/run", W_OK))
		return skip(h, st, "KSM is not available (/sys/kernel/mm/ksm/run: %s)",
			    strerror(errno));
	start = pm_host_sys_long(full);
	trace(h, st, "ksmd full_scans %ld, pages_shared %ld before", start,
	      pm_host_sys_long("/sys/kernel/mm/ksm/pages_shared"));
	if ((ret = pm_host_sys_set(HS_KSM_PAGES, "10000")) ||
	    (ret = pm_host_sys_set(HS_KSM_SLEEP, "0")))
		return ret;
	if (access("/sys/kernel/mm/ksm/smart_scan", F_OK) == 0)
		pm_host_sys_set(HS_KSM_SMART, "0");
	if ((ret = pm_host_sys_set(HS_KSM_RUN, "1")))
		return ret;
	for (int i = 0; i < 10000 && !pm_host_timed_out; i++) {
		if (pm_host_sys_long(full) >= start + 8 * (long)passes + 16)
			break;
		if (main_killed(h)) {
			ret = -EPIPE;
			break;
		}
		usleep(1000);
	}
	pm_host_sys_set(HS_KSM_RUN, "0");
	trace(h, st, "ksmd full_scans %ld, pages_shared %ld after",
	      pm_host_sys_long(full), pm_host_sys_long("/sys/kernel/mm/ksm/pages_shared"));
	return pm_host_timed_out ? -ETIMEDOUT : ret;
}

static int do_compact(void)
{
	int fd = open("/proc/sys/vm/compact_memory", O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

/* Can MADV_PAGEOUT of the private anonymous regions stand for the
 * engine's reclaim of every anonymous folio (a large one whole, as both
 * swap it)? Not for a page mapped by more than one process (MADV_PAGEOUT
 * leaves it), a KSM page (the engine keeps it), nor an anonymous copy in a
 * private file mapping (there it would drop page-cache pages too): NULL,
 * or what the scenario has that it cannot stand for. */
static const char *reclaim_unlike(struct host *h)
{
	const struct pinmm_scenario *scn = h->scn;
	const char *why = NULL;

	for (unsigned r = 0; r < scn->names[NS_REGION].nr && !why; r++) {
		unsigned long n = h->regions[r].len / PG;
		uint64_t *pm = n ? calloc(n, sizeof(*pm)) : NULL;

		if (n && !pm)
			return "a region whose pages there was no memory to look at";
		for (unsigned p = 0; pm && p < scn->names[NS_PROC].nr && !why; p++) {
			if (!h->procs[p].started || h->procs[p].exited ||
			    read_pagemap(h, (int)p, h->regions[r].addr, n, pm))
				continue;
			for (unsigned long i = 0; i < n && !why; i++) {
				struct hcmd c = { .op = H_KPAGEFLAGS, .addr = pm[i] & PM_PFN };
				uint64_t kf;

				/* nothing to reclaim, or a page-cache page (which both
				 * leave; in an anonymous region: another region is
				 * mapped there in this process) */
				if (!(pm[i] & PM_PRESENT) || (pm[i] & PM_FILE) ||
				    call(h, (int)p, &c, -1, NULL))
					continue;
				kf = h->rep.v[0];
				if (kf & (1ull << KPF_ZERO_PAGE))
					continue;	/* neither side reclaims it */
				if (!h->regions[r].anon_private)
					why = "an anonymous copy in a private file mapping (MADV_PAGEOUT "
					      "would also drop the file's page-cache pages)";
				else if (kf & (1ull << KPF_KSM))
					why = "a KSM page (the engine's reclaim keeps it)";
				else if (!(pm[i] & PM_EXCLUSIVE))
					why = "a page mapped by more than one process (MADV_PAGEOUT "
					      "leaves it, global reclaim would not)";
			}
		}
		free(pm);
	}
	return why;
}

/* reclaim: MADV_PAGEOUT of every private anonymous region in every live
 * process (global reclaim cannot be requested), when that reclaims what
 * the engine's would: every small anonymous page; pinned ones stay, as
 * try_to_unmap() refuses them */
static int do_reclaim(struct host *h, const struct stmt *st)
{
	const struct pinmm_scenario *scn = h->scn;
	const char *why;

	if (st->pass.n)
		return skip(h, st, "reclaim of N pages: the kernel picks them from its LRU lists, "
			    "not in the engine's frame order");
	if ((why = reclaim_unlike(h)))
		return skip(h, st, "MADV_PAGEOUT stands for reclaim, but not over %s", why);
	for (unsigned r = 0; r < scn->names[NS_REGION].nr; r++) {
		if (!h->regions[r].anon_private || !h->regions[r].len)
			continue;
		for (unsigned p = 0; p < scn->names[NS_PROC].nr; p++) {
			struct hcmd c = { .op = H_MADVISE, .addr = h->regions[r].addr,
					  .len = h->regions[r].len,
					  .prot = advice_of[PINMM_MADV_PAGEOUT] };
			int ret = call(h, (int)p, &c, -1, NULL);

			/* not mapped in that process (ENOMEM), or no process */
			if (ret && ret != -ENOMEM && ret != -ESRCH)
				return ret;
		}
	}
	note(h, true, "reclaim: MADV_PAGEOUT of every private anonymous region in every process");
	return 0;
}

static int do_uprobe(struct host *h, const struct stmt *st)
{
	const char *path = h->files[st->uprobe.file];
	char why[200];
	int ret;

	if (!path[0])
		return -EINVAL;
	ret = st->kind == ST_UPROBE_REGISTER
		? pm_host_uprobe_register(path, st->uprobe.off, why, sizeof(why))
		: pm_host_uprobe_unregister(path, st->uprobe.off, why, sizeof(why));
	if (ret == -EOPNOTSUPP)
		return skip(h, st, "%s", why);
	if (!ret)
		note(h, true, "uprobes: tracefs uprobe_events on a mount in no namespace "
		     "(fsmount); each probe journalled, removed after");
	return ret;
}

static struct rt_last *flow_last(struct host *h, int flow, bool dev)
{
	return dev ? &h->dev_read[flow] : &h->read[flow];
}

static int action(struct host *h, int flow, const struct stmt *st)
{
	struct hcmd c = { 0 };
	struct hpin *p;
	int ret;

	switch (st->kind) {
	case ST_MMAP:
		return do_mmap(h, st);
	case ST_FILE:
		return do_file(h, st);
	case ST_MUNMAP:
	case ST_MPROTECT:
	case ST_MADVISE:
		c.op = st->kind == ST_MUNMAP ? H_MUNMAP : st->kind == ST_MPROTECT ? H_MPROTECT
		     : H_MADVISE;
		c.addr = addr_of(h, st->range.a);
		c.len = st->range.len;
		c.prot = st->kind == ST_MPROTECT ? prot_of(st->range.prot)
		       : st->kind == ST_MADVISE ? advice_of[st->range.advice] : 0;
		return call(h, st->proc, &c, -1, NULL);
	case ST_MREMAP:
	case ST_MREMAP_PART:
		return do_mremap(h, st);
	case ST_FORK:
		return do_fork(h, st);
	case ST_EXIT:
		return do_exit(h, st);
	case ST_WRITE:
		c = (struct hcmd){ .op = H_WRITE, .addr = addr_of(h, st->cpu.a),
				   .len = st->cpu.len, .byte = st->cpu.byte,
				   .flags = st->cpu.force ? H_WRITE_FORCE : 0 };
		return call(h, st->proc, &c, -1, NULL);
	case ST_READ: {
		struct rt_last *l = flow_last(h, flow, false);

		c = (struct hcmd){ .op = H_READ, .addr = addr_of(h, st->cpu.a), .len = st->cpu.len };
		memset(l, 0, sizeof(*l));
		ret = call(h, st->proc, &c, -1, NULL);
		if (!ret)
			*l = (struct rt_last){ .valid = true, .uniform = h->rep.v[1],
					     .first = (uint8_t)h->rep.v[0], .diff = (uint8_t)h->rep.v[2],
					     .diff_at = h->rep.v[3], .len = st->cpu.len };
		return ret;
	}
	case ST_PIN:
		return do_pin(h, st);
	case ST_UNPIN:
	case ST_PUT:
		return do_unpin(h, st);
	case ST_DEV_WRITE:
		p = &h->pins[st->dev.pin];
		if (!p->held)
			return skip(h, st, "a device access through a released handle: "
				    "the kernel has no handle to refuse it with");
		return dev_write(h, p, st->dev.page * PG + st->dev.off, st->dev.byte, st->dev.len);
	case ST_DEV_READ:
		p = &h->pins[st->dev.pin];
		if (!p->held)
			return skip(h, st, "a device access through a released handle: "
				    "the kernel has no handle to refuse it with");
		return dev_read(h, p, st->dev.page * PG + st->dev.off, st->dev.len,
				flow_last(h, flow, true));
	case ST_KSM_SCAN:
		return do_ksm(h, st);
	case ST_COMPACT:
		return do_compact();
	case ST_KHUGEPAGED:
		return skip(h, st, "khugepaged runs on its own schedule and cannot be stepped "
			    "(MADV_COLLAPSE is the synchronous form)");
	case ST_RECLAIM:
		return do_reclaim(h, st);
	case ST_MIGRATE:
	case ST_NUMA_HINT:
		return skip(h, st, "one NUMA node and no user-space call that migrates a page "
			    "within a node (move_pages to the same node does nothing)");
	case ST_SPLIT_PMD:
		return skip(h, st, "no user-space call splits a PMD and keeps the VMA as it is");
	case ST_SPLIT_FOLIO:
		return skip(h, st, "folio split through debugfs split_huge_pages reports no "
			    "per-folio error to check");
	case ST_UPROBE_REGISTER:
	case ST_UPROBE_UNREGISTER:
		return do_uprobe(h, st);
	case ST_WRITEBACK: {
		/* the file's dirty pages go to disk now (a shmem file has none) */
		int fd = open(h->files[st->uprobe.file], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ret = fdatasync(fd) ? -errno : 0;
		close(fd);
		return ret;
	}
	default:
		return -EINVAL;
	}
}

/* --------------------------------------------------- expectations --- */

static struct hpin *held_pin(struct host *h, const struct stmt *st, struct observation *o)
{
	struct hpin *p = &h->pins[st->expect.pin];

	if (!p->held) {
		saw(o, OBS_ERROR, "pin %s is not held", h->scn->names[NS_PIN].v[st->expect.pin]);
		return NULL;
	}
	return p;
}

static int pin_proc(const struct stmt *st, const struct hpin *p)
{
	return st->proc_explicit ? st->proc : p->proc;
}

static uint8_t fresh(struct host *h, uint8_t a, uint8_t b)
{
	do
		h->fresh = (uint8_t)(h->fresh * 37 + 101);
	while (h->fresh == a || h->fresh == b);
	return h->fresh;
}

/* G1 both ways with fresh values, for every page; the byte is restored */
static void coherent(struct host *h, const struct stmt *st, struct hpin *p,
		     struct observation *o)
{
	int proc = pin_proc(st, p);
	uint64_t at = h->regions[p->region].addr + (uint64_t)p->off;

	if (p->kind != HP_RING) {
		saw(o, OBS_SKIP, "%s", "coherence of a R/O snapshot or reference is not G1");
		return;
	}
	for (unsigned long i = 0; i < p->pages; i++) {
		struct rt_last l;
		struct hcmd c = { .op = H_READ, .addr = at + i * PG, .len = 1 };
		uint8_t orig, b1, b2;
		int ret = dev_read(h, p, i * PG, 1, &l);

		if (ret) {
			saw(o, OBS_ERROR, "the device read failed: %s", errname(ret));
			return;
		}
		orig = l.first;
		b1 = fresh(h, orig, orig);
		if ((ret = dev_write(h, p, i * PG, b1, 1))) {
			saw(o, OBS_ERROR, "the device write failed: %s", errname(ret));
			return;
		}
		ret = call(h, proc, &c, -1, NULL);
		if (ret) {
			saw(o, OBS_FALSE, "page %lu: the CPU load faults (%s)", i, errname(ret));
			return;
		}
		if ((uint8_t)h->rep.v[0] != b1) {
			saw(o, OBS_FALSE, "page %lu: the device wrote 0x%02x, the CPU reads 0x%02x",
			    i, b1, (uint8_t)h->rep.v[0]);
			return;
		}
		b2 = fresh(h, b1, orig);
		c = (struct hcmd){ .op = H_WRITE, .addr = at + i * PG, .len = 1, .byte = b2 };
		if ((ret = call(h, proc, &c, -1, NULL))) {
			saw(o, OBS_FALSE, "page %lu: the CPU store faults (%s)", i, errname(ret));
			return;
		}
		if ((ret = dev_read(h, p, i * PG, 1, &l))) {
			saw(o, OBS_ERROR, "the device read failed: %s", errname(ret));
			return;
		}
		if (l.first != b2) {
			saw(o, OBS_FALSE, "page %lu: the CPU stored 0x%02x, the device reads 0x%02x",
			    i, b2, l.first);
			return;
		}
		dev_write(h, p, i * PG, orig, 1);
	}
	saw(o, OBS_TRUE, "coherent");
}

static void mapped(struct host *h, const struct stmt *st, struct hpin *p,
		   struct observation *o)
{
	uint64_t at = h->regions[p->region].addr + (uint64_t)p->off;
	uint64_t *pm;
	int ret;

	if (p->kind != HP_RING) {
		saw(o, OBS_SKIP, "%s", "a short-term pin or a vmsplice reference has no page "
		    "frame to compare with once its call returned");
		return;
	}
	pm = calloc(p->pages, 8);
	if (!pm) {
		saw(o, OBS_ERROR, "out of memory");
		return;
	}
	ret = read_pagemap(h, pin_proc(st, p), at, p->pages, pm);
	if (ret) {
		saw(o, OBS_ERROR, "pagemap: %s", errname(ret));
	} else {
		saw(o, OBS_TRUE, "the pinned pages are mapped there");
		for (unsigned long i = 0; i < p->pages; i++)
			if (!(pm[i] & PM_PRESENT) || (pm[i] & PM_PFN) != (p->pfn[i] & PM_PFN)) {
				saw(o, OBS_FALSE, "page %lu: pfn %s0x%llx there, pinned 0x%llx", i,
				    pm[i] & PM_PRESENT ? "" : "(none) ",
				    (unsigned long long)(pm[i] & PM_PFN),
				    (unsigned long long)(p->pfn[i] & PM_PFN));
				break;
			}
	}
	free(pm);
}

static void observe(struct host *h, int flow, const struct stmt *st, struct observation *o)
{
	struct hcmd c = { 0 };
	struct rt_last l;
	struct hpin *p;
	uint64_t pm[2];
	int ret;

	o->v = OBS_ERROR;
	switch (st->expect.kind) {
	case EX_READ:
		if (!st->expect.has_addr) {
			bytes(o, flow_last(h, flow, false), st->expect.value);
			break;
		}
		c = (struct hcmd){ .op = H_READ, .addr = addr_of(h, st->expect.a), .len = st->expect.len };
		ret = call(h, st->proc, &c, -1, NULL);
		if (ret) {
			saw(o, OBS_ERROR, "the load failed: %s", errname(ret));
			break;
		}
		l = (struct rt_last){ .valid = true, .uniform = h->rep.v[1], .first = (uint8_t)h->rep.v[0],
				    .diff = (uint8_t)h->rep.v[2], .diff_at = h->rep.v[3] };
		bytes(o, &l, st->expect.value);
		break;
	case EX_DEV_READ:
		if (!st->expect.has_addr) {
			bytes(o, flow_last(h, flow, true), st->expect.value);
			break;
		}
		if (!(p = held_pin(h, st, o)))
			break;
		ret = dev_read(h, p, st->expect.page * PG + st->expect.off, st->expect.len, &l);
		if (ret)
			saw(o, OBS_ERROR, "the device read failed: %s", errname(ret));
		else
			bytes(o, &l, st->expect.value);
		break;
	case EX_COHERENT:
		if ((p = held_pin(h, st, o)))
			coherent(h, st, p, o);
		break;
	case EX_MAPPED:
		if ((p = held_pin(h, st, o)))
			mapped(h, st, p, o);
		break;
	case EX_SAME_PAGE:
		if ((ret = read_pagemap(h, st->proc, addr_of(h, st->expect.a), 1, &pm[0])) ||
		    (ret = read_pagemap(h, st->expect.proc_b < 0 ? st->proc : st->expect.proc_b,
					addr_of(h, st->expect.b), 1, &pm[1]))) {
			saw(o, OBS_ERROR, "pagemap: %s", errname(ret));
			break;
		}
		saw(o, (pm[0] & PM_PRESENT) && (pm[1] & PM_PRESENT) &&
		       (pm[0] & PM_PFN) == (pm[1] & PM_PFN) ? OBS_TRUE : OBS_FALSE,
		    "pfn %s0x%llx and %s0x%llx", pm[0] & PM_PRESENT ? "" : "(none) ",
		    (unsigned long long)(pm[0] & PM_PFN), pm[1] & PM_PRESENT ? "" : "(none) ",
		    (unsigned long long)(pm[1] & PM_PFN));
		break;
	case EX_HUGE:
		/* the huge zero page is PMD-mapped but not in AnonHugePages:
		 * kpageflags tells it (KPF_ZERO_PAGE with KPF_THP) */
		if (!read_pagemap(h, st->proc, addr_of(h, st->expect.a), 1, &pm[0]) &&
		    (pm[0] & PM_PRESENT)) {
			c = (struct hcmd){ .op = H_KPAGEFLAGS, .addr = pm[0] & PM_PFN };
			const uint64_t hzp = (1ull << KPF_THP) | (1ull << KPF_ZERO_PAGE);
			if (!call(h, st->proc, &c, -1, NULL) && (h->rep.v[0] & hzp) == hzp) {
				saw(o, OBS_TRUE, "%s", "the huge zero page");
				break;
			}
			/* hugetlb memory is never in AnonHugePages: its page says */
			if (h->rep.v[0] & (1ull << KPF_HUGE)) {
				saw(o, OBS_TRUE, "%s", "a hugetlb page");
				break;
			}
		}
		c = (struct hcmd){ .op = H_SMAPS_HUGE, .addr = addr_of(h, st->expect.a) };
		ret = call(h, st->proc, &c, -1, NULL);
		if (ret)
			saw(o, OBS_ERROR, "smaps: %s", errname(ret));
		else
			saw(o, h->rep.v[0] >= 2048 ? OBS_TRUE : OBS_FALSE,
			    "AnonHugePages %llu kB in the VMA", (unsigned long long)h->rep.v[0]);
		break;
	case EX_SWAPPED:
	case EX_ORDER:
		if ((ret = read_pagemap(h, st->proc, addr_of(h, st->expect.a), 1, &pm[0]))) {
			saw(o, OBS_ERROR, "pagemap: %s", errname(ret));
			break;
		}
		if (st->expect.kind == EX_SWAPPED) {
			saw(o, pm[0] & PM_SWAP ? OBS_TRUE : OBS_FALSE, "%s",
			    pm[0] & PM_SWAP ? "a swap entry" : pm[0] & PM_PRESENT ? "present" : "empty");
			break;
		}
		if (!(pm[0] & PM_PRESENT)) {
			saw(o, OBS_ERROR, "no page is mapped there");
			break;
		}
		c = (struct hcmd){ .op = H_KPAGEFLAGS, .addr = pm[0] & PM_PFN };
		if ((ret = call(h, st->proc, &c, -1, NULL))) {
			saw(o, OBS_ERROR, "kpageflags: %s", errname(ret));
			break;
		}
		/* an anonymous THP of any size: its folio's order */
		long order = h->rep.v[0] & ((1ull << KPF_THP) | (1ull << KPF_HUGE)) ? (long)h->rep.v[1] : 0;
		saw(o, order == st->expect.value ? OBS_TRUE : OBS_FALSE, "order %ld", order);
		break;
	case EX_PINNED:
		saw(o, OBS_SKIP, "%s", "the kernel does not show pin counts to user space");
		break;
	case EX_ZONE:
		saw(o, OBS_SKIP, "%s", "the kernel does not show which zone a page is in");
		break;
	case EX_INVARIANTS:
		saw(o, OBS_SKIP, "%s", "the engine's accounting invariants have no kernel counterpart");
		break;
	case EX_NR:
		break;
	}
}

static void expect(struct host *h, int flow, const struct stmt *st)
{
	struct observation o = { .v = OBS_ERROR };
	bool held;

	observe(h, flow, st, &o);
	if (o.v == OBS_SKIP) {
		h->res->nr_skipped++;
		note(h, false, "skipped %s (%s:%u): %s", st->text, h->scn->file, st->line, o.what);
		return;
	}
	held = o.v == OBS_TRUE;
	if (st->expect.negate && o.v != OBS_ERROR)
		held = !held;
	if (held)
		trace(h, st, "holds (%s)", o.what);
	else
		fail(h, st, "%s%s", o.v == OBS_ERROR ? "" : "saw ", o.what);
}

/* ---------------------------------------------------------- flows --- */

static bool run_list(struct host *h, int flow, const struct stmt_list *list);

static bool step(struct host *h, int flow, const struct stmt *st)
{
	int ret;

	switch (st->kind) {
	case ST_EXPECT:
		expect(h, flow, st);
		return true;
	case ST_EXPECT_ERROR:
	case ST_TRY:
		ret = action(h, flow, st->guard.inner);
		if (h->stop)
			return false;
		if (st->kind == ST_TRY)
			trace(h, st, "%s (allowed)", ret ? errname(ret) : "ok");
		else if (ret == -st->guard.code)
			trace(h, st, "%s as expected", errname(ret));
		else
			fail(h, st, "got %s", ret ? errname(ret) : "success");
		return true;
	case ST_THREAD:
		h->pending[st->thread.thread] = true;
		return true;
	case ST_RUN:
		note(h, true, "threads run one after another in the order declared (one "
		     "interleaving; the kernel's are not controlled)");
		for (unsigned i = 0; i < h->scn->names[NS_THREAD].nr; i++) {
			if (!h->pending[i])
				continue;
			h->pending[i] = false;
			run_list(h, (int)i + 1, &h->scn->threads[i].body);
			if (h->skipped)
				return false;
		}
		return true;
	default:
		break;
	}
	ret = action(h, flow, st);
	if (h->stop)
		return false;
	if (ret) {
		fail(h, st, "%s%s", errname(ret), pm_host_timed_out ? " (timed out)" :
		     ret == -EPIPE ? " (the process died)" : "");
		return false;
	}
	trace(h, st, "ok");
	return true;
}

static bool run_list(struct host *h, int flow, const struct stmt_list *list)
{
	for (unsigned i = 0; i < list->nr; i++) {
		if (!h->killed && main_killed(h))
			fail(h, list->v[i], "not run: main was killed");
		if (h->stop || pm_host_timed_out || h->killed || !step(h, flow, list->v[i]))
			return false;
	}
	return true;
}

/* ----------------------------------------------------------- run --- */

int pinmm_host_available(char *why, size_t len)
{
	long dis;

	if (geteuid() != 0) {
		snprintf(why, len, "not root (pagemap PFNs, KSM and compaction need it)");
		return -EPERM;
	}
	dis = pm_host_sys_long("/proc/sys/kernel/io_uring_disabled");
	if (dis > 0) {
		snprintf(why, len, "io_uring disabled (/proc/sys/kernel/io_uring_disabled=%ld)", dis);
		return -ENOSYS;
	}
	struct io_uring r;
	int ret = io_uring_queue_init(2, &r, 0);
	if (ret) {
		snprintf(why, len, "io_uring_setup: %s", strerror(-ret));
		return ret;
	}
	io_uring_queue_exit(&r);
	return 0;
}

static void raise_memlock(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	/* root: fixed buffers are not charged with CAP_IPC_LOCK, but raise
	 * it anyway; the process is ours and exits after the run */
	setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* `swap SIZE`: a zram swap device for the run (host_swap.c), else the
 * machine's own when it has one, else the scenario is skipped */
static int swap_for_run(struct host *h)
{
	char dev[32], why[200];

	if (!h->scn->swap)
		return 0;
	if (!pm_host_swap_on(h->scn->swap, dev, sizeof(dev), why, sizeof(why))) {
		note(h, true, "swap: %s, a zram device of %llu KiB made swap (mkswap, swapon at "
		     "priority 32767) for the run, swapped off and reset after", dev,
		     (unsigned long long)h->scn->swap / 1024);
	} else if (host_has_swap()) {
		note(h, true, "swap: the machine's own (no device of the run's: %s)", why);
	} else {
		snprintf(h->res->skip, sizeof(h->res->skip),
			 "the scenario needs a swap device: none is active (/proc/swaps) and "
			 "none could be set up (%s)", why);
		h->skipped = true;
	}
	return 0;
}

static int setup(struct host *h)
{
	const struct pinmm_scenario *scn = h->scn;
	const char *base = h->opt->tmpdir ? h->opt->tmpdir : getenv("PINMM_HOST_TMPDIR");
	unsigned np = scn->names[NS_PIN].nr, nt = scn->names[NS_THREAD].nr;
	int ret;

	h->procs = calloc(scn->names[NS_PROC].nr + 1, sizeof(*h->procs));
	h->regions = calloc(scn->names[NS_REGION].nr + 1, sizeof(*h->regions));
	h->pins = calloc(np + 1, sizeof(*h->pins));
	h->files = calloc(scn->names[NS_FILE].nr + 1, sizeof(*h->files));
	h->memfds = malloc((scn->names[NS_FILE].nr + 1) * sizeof(*h->memfds));
	if (h->memfds)
		for (unsigned i = 0; i <= scn->names[NS_FILE].nr; i++)
			h->memfds[i] = -1;
	h->read = calloc(nt + 1, sizeof(*h->read));
	h->dev_read = calloc(nt + 1, sizeof(*h->dev_read));
	h->pending = calloc(nt + 1, sizeof(*h->pending));
	if (!h->procs || !h->regions || !h->pins || !h->files || !h->memfds || !h->read ||
	    !h->dev_read ||
	    !h->pending)
		return -ENOMEM;
	for (unsigned i = 0; i < np; i++)
		h->pins[i].fd = -1;
	ret = pm_host_guard_mktmp(base ? base : "/var/tmp", h->tmp, sizeof(h->tmp));
	if (ret)
		return ret;
	snprintf(h->devpath, sizeof(h->devpath), "%s/device", h->tmp);
	h->devfd = open(h->devpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (h->devfd < 0)
		return -errno;
	return 0;
}

static void teardown(struct host *h, bool quiet)
{
	const struct pinmm_scenario *scn = h->scn;
	for (unsigned i = 0; h->pins && i < scn->names[NS_PIN].nr; i++) {
		struct hpin *p = &h->pins[i];

		if (p->held && !quiet) {
			fail_at(h, p->line, scn->names[NS_PIN].v[i],
				"still held at the end (no %s)",
				p->kind == HP_SPLICE ? "put" : "unpin");
		}
		release_pin(p);
		free(p->pfn);
	}
	if (h->procs)
		stop_all(h);
	if (h->devfd > 0)
		close(h->devfd);
	pm_host_cleanup();
	free(h->procs);
	free(h->regions);
	free(h->pins);
	free(h->files);
	for (unsigned i = 0; h->memfds && i <= h->scn->names[NS_FILE].nr; i++)
		if (h->memfds[i] >= 0)
			close(h->memfds[i]);
	free(h->memfds);
	free(h->read);
	free(h->dev_read);
	free(h->pending);
}

int pinmm_host_run(const struct pinmm_scenario *scn, const struct pinmm_host_options *opt,
		   struct pinmm_host_result *res)
{
	struct host h;
	char why[200];
	bool completed = false;
	int ret, lock;

	memset(res, 0, sizeof(*res));
	memset(&h, 0, sizeof(h));
	h.scn = scn;
	h.opt = opt;
	h.res = res;
	if (scn->host_skip) {
		res->outcome = PINMM_HOST_SKIP;
		snprintf(res->skip, sizeof(res->skip), "host skip: %s", scn->host_skip);
		return 0;
	}
	if (scn->movablecore) {
		/* a boot parameter: the running kernel has what it booted with */
		res->outcome = PINMM_HOST_SKIP;
		snprintf(res->skip, sizeof(res->skip),
			 "movablecore is a boot parameter: the running kernel cannot be given a movable zone");
		return 0;
	}
	if (pinmm_host_available(why, sizeof(why))) {
		res->outcome = PINMM_HOST_SKIP;
		snprintf(res->skip, sizeof(res->skip), "%s", why);
		return 0;
	}
	pm_host_timed_out = 0;
	pm_host_guard_install();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	raise_memlock();
	/* the timeout counts the wait for another run too (a stopped one
	 * holds the lock for ever) */
	if (opt->timeout)
		alarm(opt->timeout);
	lock = pm_host_lock(NULL);	/* KSM's knobs are global: one run at a time */
	if (lock < 0) {
		alarm(0);
		prctl(PR_SET_CHILD_SUBREAPER, 0);
		if (lock != -ETIMEDOUT)
			return lock;
		fail_at(&h, 1, "the run", "timed out after %u s waiting for another run "
			"(/run/pinmm/host.lock)", opt->timeout);
		res->scn.outcome = PINMM_SCN_FAIL;
		res->outcome = PINMM_HOST_FAIL;
		return 0;
	}
	/* khugepaged would collapse MADV_HUGEPAGE ranges behind the scenario's
	 * back: it sleeps an hour between scans for the run */
	{
		const char *fs = "/sys/kernel/mm/transparent_hugepage/khugepaged/full_scans";
		long before = pm_host_sys_long(fs);

		bool thp = false;

		for (unsigned i = 0; i < scn->body.nr; i++)
			thp |= scn->body.v[i]->kind == ST_MMAP && scn->body.v[i]->mmap.thp > 0;
		/* MADV_HUGEPAGE wakes khugepaged for the new mm whatever its
		 * sleep: with THP faults not needed, stop it altogether
		 * (MADV_COLLAPSE ignores the setting) */
		if (!thp && !pm_host_sys_set(HS_THP_ENABLED, "never"))
			note(&h, true, "THP enabled=never for the run (khugepaged stopped; "
			     "MADV_COLLAPSE still works), restored after");
		pm_host_sys_set(HS_THP_ALLOC_SLEEP, "3600000");
		pm_host_sys_set(HS_THP_SCAN_SLEEP, "3600000");
		/* hugetlb pages=N: the pool for the run (free pages counted:
		 * the kernel fills it as far as it can) */
		if (scn->hugetlb_pages) {
			char n[16];
			long got;

			snprintf(n, sizeof(n), "%u", scn->hugetlb_pages);
			if (pm_host_sys_set(HS_NR_HUGEPAGES, n))
				snprintf(h.hugetlb_short, sizeof(h.hugetlb_short),
					 "could not set /proc/sys/vm/nr_hugepages");
			else if ((got = pm_host_sys_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")) <
				 (long)scn->hugetlb_pages)
				snprintf(h.hugetlb_short, sizeof(h.hugetlb_short),
					 "the kernel could fill %ld of %u free 2 MiB huge pages",
					 got, scn->hugetlb_pages);
			else
				note(&h, true, "nr_hugepages=%u for the run, restored after",
				     scn->hugetlb_pages);
		}
		/* thp=SIZE: the sizes named, and no other, as on the engine */
		for (unsigned order = 2; scn->thp_orders && order <= 9; order++)
			if (pm_host_sys_set(HS_MTHP_ORDER2 + order - 2,
					    scn->thp_orders & (1u << order) ? "madvise" : "never"))
				note(&h, false, "could not set the %lu kB THP size",
				     4ul << order);
		/* the write wakes it for one pass: let that pass end before
		 * the scenario maps anything */
		for (int i = 0; i < 200 && pm_host_sys_long(fs) == before; i++)
			usleep(1000);
	}
	ret = swap_for_run(&h);
	if (!ret && !h.skipped)
		ret = setup(&h);
	if (!ret && !h.skipped)
		ret = start_main(&h);
	if (!ret && !h.skipped)
		completed = run_list(&h, 0, &scn->body);
	if (pm_host_timed_out)
		fail_at(&h, 1, "the run", "timed out after %u s", opt->timeout);
	teardown(&h, !completed);
	alarm(0);
	pm_host_unlock(lock);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (ret)
		return ret;
	res->scn.outcome = res->scn.nr_failures ? PINMM_SCN_FAIL : PINMM_SCN_PASS;
	res->outcome = res->scn.nr_failures ? PINMM_HOST_FAIL
		     : h.skipped ? PINMM_HOST_SKIP : PINMM_HOST_PASS;
	return 0;
}

int pinmm_host_recover(unsigned timeout)
{
	int lock, n = 0;

	if (geteuid())
		return -EPERM;
	pm_host_timed_out = 0;
	pm_host_guard_install();
	if (timeout)
		alarm(timeout);
	lock = pm_host_lock(&n);	/* which restores */
	alarm(0);
	pm_host_unlock(lock);
	return lock < 0 ? lock : n;
}

const char *pinmm_host_outcome_str(enum pinmm_host_outcome o)
{
	switch (o) {
	case PINMM_HOST_PASS: return "pass";
	case PINMM_HOST_FAIL: return "fail";
	case PINMM_HOST_SKIP: return "skipped";
	}
	return "?";
}

int pinmm_host_report(FILE *out, const struct pinmm_scenario *scn,
		      const struct pinmm_host_result *res, bool json)
{
	struct utsname u;

	uname(&u);
	if (json) {
		/* through json-c: reasons and messages may hold quotes */
		json_object *o = pm_json_document(), *fails = json_object_new_array(),
			    *notes = json_object_new_array();

		json_object_object_add(o, "file", json_object_new_string(scn->file));
		json_object_object_add(o, "kernel", json_object_new_string(u.release));
		json_object_object_add(o, "outcome",
				       json_object_new_string(pinmm_host_outcome_str(res->outcome)));
		if (res->outcome == PINMM_HOST_SKIP)
			json_object_object_add(o, "skip", json_object_new_string(res->skip));
		for (unsigned i = 0; i < res->scn.nr_msgs; i++)
			json_object_array_add(fails, json_object_new_string(res->scn.msgs[i]));
		json_object_object_add(o, "failures", fails);
		json_object_object_add(o, "skipped_expectations",
				       json_object_new_int((int)res->nr_skipped));
		for (unsigned i = 0; i < res->nr_notes; i++)
			json_object_array_add(notes, json_object_new_string(res->notes[i]));
		json_object_object_add(o, "notes", notes);
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return 0;
	}
	fprintf(out, "%s (host, Linux %s): %s\n", scn->file, u.release,
		res->outcome == PINMM_HOST_FAIL ? "FAIL" : pinmm_host_outcome_str(res->outcome));
	for (unsigned i = 0; i < res->scn.nr_msgs; i++)
		fprintf(out, "  %s\n", res->scn.msgs[i]);
	if (res->scn.nr_failures > res->scn.nr_msgs)
		fprintf(out, "  ... and %u more\n", res->scn.nr_failures - res->scn.nr_msgs);
	if (res->outcome == PINMM_HOST_SKIP)
		fprintf(out, "  skipped: %s\n", res->skip);
	for (unsigned i = 0; i < res->nr_notes; i++)
		fprintf(out, "  note: %s\n", res->notes[i]);
	return 0;
}
