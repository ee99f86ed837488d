/* SPDX-License-Identifier: MIT */
/*
 * host_worker.c - a worker process of the host backend: one real process
 * per scenario process, running the commands the controller sends it over a
 * SOCK_SEQPACKET socket. CPU accesses that fault are caught (SIGSEGV /
 * SIGBUS) and answered as EFAULT (no mapping) or EACCES (protection), the
 * errors the scenario language uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/io_uring.h>

#include "host.h"

#define PG 4096ul
#define PMD (2ul << 20)

ssize_t pm_host_send(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof(u.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t pm_host_recv(int sock, void *buf, size_t len, int *fd)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	ssize_t n;

	if (fd)
		*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR && !pm_host_timed_out);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(c), sizeof(int));
			if (fd)
				*fd = got;
			else
				close(got);
		}
	return n;
}

void *pm_host_reserve(uint64_t len, uint64_t align)
{
	uint64_t span = len + 2 * PG + (align > PG ? align : 0);
	char *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	uint64_t start, end;

	if (p == MAP_FAILED)
		return p;
	start = (uint64_t)p + PG;
	if (align > PG)
		start = (start + align - 1) & ~(align - 1);
	/* keep one guard page each side, give the rest back */
	end = start + len + PG;
	if (start - PG > (uint64_t)p)
		munmap(p, start - PG - (uint64_t)p);
	if ((uint64_t)p + span > end)
		munmap((void *)end, (uint64_t)p + span - end);
	return (void *)start;
}

/* ------------------------------------------------------ CPU access --- */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_access;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!in_access) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	in_access = 0;
	siglongjmp(fault_jmp, sig == SIGSEGV && si->si_code == SEGV_ACCERR ? EACCES : EFAULT);
}

static int cpu_write(uint64_t addr_, uint8_t byte_, uint64_t len_)
{
	volatile uint64_t addr = addr_, len = len_;
	volatile uint8_t byte = byte_;
	int err = sigsetjmp(fault_jmp, 1);

	if (err)
		return err;
	in_access = 1;
	for (uint64_t i = 0; i < len; i++)
		((volatile uint8_t *)addr)[i] = byte;
	in_access = 0;
	return 0;
}

/* What a debugger's write does: /proc/self/mem takes the kernel's
 * FOLL_FORCE path, past the mapping's protection (COW for private ones). */
static int force_write(uint64_t addr, uint8_t byte, uint64_t len)
{
	uint8_t buf[512];
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return errno;
	memset(buf, byte, sizeof(buf));
	for (uint64_t done = 0; done < len && !err;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t w = pwrite(fd, buf, n, (off_t)(addr + done));

		if (w < 0)
			err = errno == EIO ? EFAULT : errno;	/* no page: EIO */
		else if (w == 0)
			err = EFAULT;
		else
			done += (uint64_t)w;
	}
	close(fd);
	return err;
}

static int cpu_read(uint64_t addr_, uint64_t len_, struct hrep *r_)
{
	volatile uint64_t addr = addr_, len = len_;
	struct hrep *volatile r = r_;
	volatile uint64_t first = 0, uniform = 1, diff = 0, diff_at = 0;
	int err = sigsetjmp(fault_jmp, 1);

	if (err)
		return err;
	in_access = 1;
	for (uint64_t i = 0; i < len; i++) {
		uint8_t b = ((volatile uint8_t *)addr)[i];

		if (i == 0)
			first = b;
		else if (uniform && b != first) {
			uniform = 0;
			diff = b;
			diff_at = i;
		}
	}
	in_access = 0;
	r->v[0] = first, r->v[1] = uniform, r->v[2] = diff, r->v[3] = diff_at;
	return 0;
}

/* ------------------------------------------------------ the loop --- */

static int do_mmap(const struct hcmd *c, struct hrep *r)
{
	int mflags = (c->flags & H_MMAP_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	uint64_t align = c->align;
	int fd = -1;
	void *want, *p;

	if (c->path[0]) {
		fd = open(c->path, O_RDWR);
		if (fd < 0)
			return errno;
	} else {
		mflags |= MAP_ANONYMOUS;
	}
	if (c->flags & H_MMAP_HUGETLB)
		mflags |= MAP_HUGETLB;	/* 2 MiB pages, the default size */
	if (c->flags & H_MMAP_FIXED) {
		want = (void *)c->addr;
	} else {
		if (c->len >= PMD || (c->flags & (H_MMAP_THP | H_MMAP_HUGETLB)))
			align = align > PMD ? align : PMD;
		want = pm_host_reserve(c->len, align);
		if (want == MAP_FAILED) {
			if (fd >= 0)
				close(fd);
			return errno;
		}
	}
	p = mmap(want, c->len, c->prot, mflags | MAP_FIXED, fd, (off_t)c->off);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return errno;
	if ((c->flags & H_MMAP_THP) && madvise(p, c->len, MADV_HUGEPAGE))
		return errno;
	if ((c->flags & H_MMAP_NOTHP) && madvise(p, c->len, MADV_NOHUGEPAGE))
		return errno;
	if (c->flags & H_MMAP_POPULATE) {
		int adv = (c->prot & PROT_WRITE) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;

		if (c->prot != PROT_NONE && madvise(p, c->len, adv))
			return errno;
	}
	r->addr = (uint64_t)p;
	return 0;
}

static int do_mremap(const struct hcmd *c, struct hrep *r)
{
	uint64_t align = !(c->addr & (PMD - 1)) && c->len2 >= PMD ? PMD : PG;
	void *dst = pm_host_reserve(c->len2, align), *p;
	int fl = MREMAP_MAYMOVE | MREMAP_FIXED;

	if (dst == MAP_FAILED)
		return errno;
	if (c->flags & H_MREMAP_DONTUNMAP)
		fl |= MREMAP_DONTUNMAP;
	p = mremap((void *)c->addr, c->len, c->len2, fl, dst);
	if (p == MAP_FAILED) {
		int e = errno;

		munmap(dst, c->len2);
		return e;
	}
	r->addr = (uint64_t)p;
	return 0;
}

static int do_pagemap(const struct hcmd *c, struct hrep *r)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t n = c->len > H_DATA ? H_DATA : c->len;
	ssize_t got;

	if (fd < 0)
		return errno;
	got = pread(fd, r->data, n * 8, (off_t)(c->addr / PG * 8));
	close(fd);
	if (got != (ssize_t)(n * 8))
		return got < 0 ? errno : EIO;
	r->n = (uint32_t)n;
	return 0;
}

/* AnonHugePages (kB) of the VMA holding addr */
static int do_smaps_huge(const struct hcmd *c, struct hrep *r)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, found = false;

	if (!f)
		return errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, kb;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = c->addr >= lo && c->addr < hi;
			found |= in;
		} else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			r->v[0] = kb;
		}
	}
	fclose(f);
	return found ? 0 : EFAULT;
}

/* The flags of page c->addr (v[0]) and the order of its folio (v[1]): a
 * compound page is its head and the tails after it, read around it from
 * /proc/kpageflags (the kernel shows no folio order; a THP is at most
 * 2 MiB here). */
static int do_kpageflags(const struct hcmd *c, struct hrep *r)
{
	enum { HEAD = 15, TAIL = 16, SPAN = 512 };
	uint64_t flags[2 * SPAN], first = c->addr >= SPAN ? c->addr - SPAN : 0;
	int fd = open("/proc/kpageflags", O_RDONLY);
	ssize_t got;

	if (fd < 0)
		return errno;
	got = pread(fd, flags, sizeof(flags), (off_t)(first * 8));
	close(fd);
	if (got < (ssize_t)((c->addr - first + 1) * 8))
		return EIO;
	size_t n = (size_t)got / 8, at = c->addr - first, head = at, end;
	r->v[0] = flags[at];
	while (head > 0 && (flags[head] & (1ull << TAIL)))
		head--;
	r->v[1] = 0;
	if (!(flags[head] & (1ull << HEAD)) || (head != at && !(flags[at] & (1ull << TAIL))))
		return 0;	/* a small page */
	for (end = head + 1; end < n && (flags[end] & (1ull << TAIL)); end++)
		;
	r->v[1] = (uint64_t)__builtin_ctzll(end - head);
	return 0;
}

/* The ring is the controller's: io_uring files cannot travel over a unix
 * socket, so the worker takes a copy with pidfd_getfd (root, or the
 * controller as an ancestor), registers its own memory on it (the pin is
 * taken on this mm), and drops the copy. */
static int do_register(const struct hcmd *c)
{
	struct iovec iov = { .iov_base = (void *)c->addr, .iov_len = c->len };
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)c->align, 0), fd;
	long ret;

	if (pidfd < 0)
		return errno;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)c->off, 0);
	close(pidfd);
	if (fd < 0)
		return errno;
	ret = syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &iov, 1);
	close(fd);
	return ret < 0 ? errno : 0;
}

/* get: vmsplice the range into a pipe (FOLL_GET references held by the
 * pipe); the read end goes to the controller, which reads it with tee. */
static int do_vmsplice(int sock, const struct hcmd *c, struct hrep *r)
{
	struct iovec iov = { .iov_base = (void *)c->addr, .iov_len = c->len };
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return errno;
	if (c->len > 65536 && fcntl(p[1], F_SETPIPE_SZ, (int)c->len) < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	n = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
	close(p[1]);
	if (n != (ssize_t)c->len) {
		close(p[0]);
		return n < 0 ? errno : EIO;
	}
	r->err = 0;
	pm_host_send(sock, r, sizeof(*r), p[0]);
	close(p[0]);
	return -1;	/* replied */
}

/* short-term R/O pin: the device (the disk) reads the range now */
static int do_odirect(const struct hcmd *c)
{
	int fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return errno;
	n = pwrite(fd, (void *)c->addr, c->len, 0);
	close(fd);
	if (n != (ssize_t)c->len)
		return n < 0 ? errno : EIO;
	return 0;
}

static int do_fork(int *sock, struct hrep *r)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return errno;
	pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		return errno;
	}
	if (pid == 0) {
		close(*sock);
		close(sp[0]);
		*sock = sp[1];
		return -2;	/* the child: no reply, it serves sp[1] */
	}
	close(sp[1]);
	r->v[0] = (uint64_t)pid;
	r->err = 0;
	pm_host_send(*sock, r, sizeof(*r), sp[0]);
	close(sp[0]);
	return -1;
}

void pm_host_worker(int sock)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct hcmd c;
	struct hrep *r = malloc(sizeof(*r));

	if (!r)
		_exit(3);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* children are reaped by the kernel; orphans go to the controller */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the controller decides; a ^C reaches the group */
	signal(SIGTERM, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	for (;;) {
		int fd = -1, err;
		ssize_t n = pm_host_recv(sock, &c, sizeof(c), &fd);

		if (n <= 0)
			_exit(0);	/* the controller is gone */
		memset(r, 0, offsetof(struct hrep, data));
		switch (c.op) {
		case H_MMAP: err = do_mmap(&c, r); break;
		case H_MUNMAP: err = munmap((void *)c.addr, c.len) ? errno : 0; break;
		case H_MPROTECT: err = mprotect((void *)c.addr, c.len, c.prot) ? errno : 0; break;
		case H_MADVISE: err = madvise((void *)c.addr, c.len, c.prot) ? errno : 0; break;
		case H_MREMAP: err = do_mremap(&c, r); break;
		case H_FORK: err = do_fork(&sock, r); break;
		case H_EXIT:
			pm_host_send(sock, r, sizeof(*r), -1);
			_exit(0);
		case H_WRITE:
			err = c.flags & H_WRITE_FORCE ? force_write(c.addr, c.byte, c.len)
						      : cpu_write(c.addr, c.byte, c.len);
			break;
		case H_READ: err = cpu_read(c.addr, c.len, r); break;
		case H_PAGEMAP: err = do_pagemap(&c, r); break;
		case H_SMAPS_HUGE: err = do_smaps_huge(&c, r); break;
		case H_KPAGEFLAGS: err = do_kpageflags(&c, r); break;
		case H_REGISTER: err = do_register(&c); break;
		case H_VMSPLICE: err = do_vmsplice(sock, &c, r); break;
		case H_ODIRECT: err = do_odirect(&c); break;
		default: err = EINVAL; break;
		}
		if (fd >= 0)
			close(fd);
		if (err == -2)
			continue;	/* a new child: serve the controller */
		if (err == -1)
			continue;	/* replied already */
		r->err = err;
		if (pm_host_send(sock, r, sizeof(*r), -1) < 0)
			_exit(0);
	}
}
