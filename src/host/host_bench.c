/* SPDX-License-Identifier: MIT */

/* labels are cut to the rows' fixed sizes on purpose (GCC's warning; clang
 * has none by that name) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
/*
 * host_bench.c - `pinmm bench`: the engine and the running kernel measured
 * side by side in one run, per 4 KiB page, as ratios engine / host, with
 * the goals of docs/performance.md ("Engine vs host kernel, one run").
 *
 *   pin      pinmm_pin_user_pages_fast (W | LONGTERM) in 512-page batches
 *            + pinmm_unpin_user_pages, against io_uring_register_buffers of
 *            populated anonymous memory (iovecs of at most 1 GiB) +
 *            io_uring_unregister_buffers; 4 KiB .. 256 MiB
 *   fault    pinmm_store_fill of 1 byte per page of a fresh mapping, against
 *            a CPU store of one byte per page of a fresh mmap
 *   fork     of a touched region with none / all of it pinned (host: one
 *            fixed buffer); the child exits at once; fork + child exit
 *            (host: fork + waitpid) is timed
 *   ksm      every page has one identical twin: time until all are merged
 *            (engine: pinmm_ksm_scan passes; host: ksmd at full speed, the
 *            knobs saved and restored by host_sys.c as `pinmm host` does)
 *
 * The host rows need root and io_uring (pinmm_host_available); without
 * them, or without KSM, those rows are skipped with the reason. Root's
 * RLIMIT_MEMLOCK is raised for the run and restored. The whole run holds
 * the host backend's machine-wide lock (KSM's knobs are global). Times are
 * CLOCK_MONOTONIC medians of --reps repetitions, each after one untimed
 * warm-up. The CLI is linked with the explore build of the engine (a no-op
 * hook call per preemption point, 3-5 %, docs/explorer.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <liburing.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pinmm/host.h>
#include <pinmm/pinmm.h>

#include "host.h"
#include "../report/report.h"

#define PG 4096ul
#define KIB 1024ul
#define MIB (1024ul * 1024ul)
#define GIB (1024ul * MIB)
#define BATCH 512ul
#define MAX_REPS 99
#define RW (PINMM_PROT_READ | PINMM_PROT_WRITE)

enum goal { G_NONE, G_RATIO_LE, G_ENGINE_LT_HOST };

struct brow {
	char name[32];		/* JSON key */
	char what[64];		/* table label */
	const char *unit;
	double eng, host;	/* medians; NAN: not measured */
	char skip[200];		/* why the host column is empty */
	enum goal goal;
	double limit;		/* G_RATIO_LE: engine / host <= limit */
	bool plot;		/* a per-page cost in the SVG */
};

#define MAX_ROWS 24

struct bench {
	const struct pinmm_host_bench_options *opt;
	int reps;
	struct brow rows[MAX_ROWS];
	int nr;
	bool host_ok, ksm_ok;
	char host_why[200], ksm_why[200];
};

/* ---------------------------------------------------------- helpers --- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct brow *add_row(struct bench *b, const char *name, const char *what,
			    const char *unit, enum goal g, double limit, bool plot)
{
	struct brow *r = &b->rows[b->nr++];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->what, sizeof(r->what), "%s", what);
	r->unit = unit;
	r->eng = r->host = NAN;
	r->goal = g;
	r->limit = limit;
	r->plot = plot;
	return r;
}

static const char *size_name(uint64_t len, char *buf, size_t n)
{
	if (len >= MIB)
		snprintf(buf, n, "%lu MiB", (unsigned long)(len / MIB));
	else
		snprintf(buf, n, "%lu KiB", (unsigned long)(len / KIB));
	return buf;
}

#define ECHECK(expr)                                                          \
	do {                                                                  \
		long _r = (long)(expr);                                       \
		if (_r < 0) {                                                 \
			fprintf(stderr, "pinmm bench: engine: %s = %ld (%s)\n", \
				#expr, _r, strerror((int)-_r));               \
			ret = (int)_r;                                        \
			goto out;                                             \
		}                                                             \
	} while (0)

static int new_engine(struct pinmm **eng)
{
	struct pinmm_config cfg;

	/* as bench/pinmm-bench: 1 GiB of movable frames (NORESERVE arena,
	 * only touched frames cost memory) and a normal zone that can take
	 * 256 MiB of longterm pins moved out of the movable zone */
	pinmm_config_default(&cfg);
	cfg.movable_frames = 262144;
	cfg.normal_frames = 4096 + 65536;
	return pinmm_create(&cfg, eng);
}

static void free_engine(struct pinmm *eng)
{
	if (eng && pinmm_destroy(eng))
		fprintf(stderr, "pinmm bench: pinmm_destroy: leak\n");
}

/* a populated (written) engine region, small pages */
static int eng_region(struct pinmm_mm *mm, uint64_t len, uint64_t *a)
{
	int ret = pinmm_mmap(mm, 0, len, RW,
			     PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_NOHUGEPAGE, a);

	for (uint64_t off = 0; !ret && off < len; off += PG)
		ret = pinmm_store_fill(mm, *a + off, 0x5a, 1);
	return ret;
}

/* a fresh host mapping, small pages (HOST-FACTS: THP off), optionally
 * written once per page */
static uint8_t *host_region(uint64_t len, bool touch)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	if (touch)
		for (uint64_t off = 0; off < len; off += PG)
			((volatile uint8_t *)p)[off] = 0x5a;
	return p;
}

static void host_touch(uint8_t *p, uint64_t len, uint8_t byte)
{
	for (uint64_t off = 0; off < len; off += PG)
		((volatile uint8_t *)p)[off] = byte;
}

/* the iovecs of a registration: at most 1 GiB each (HOST-FACTS) */
static unsigned host_iovecs(uint8_t *p, uint64_t len, struct iovec *iov, unsigned max)
{
	unsigned n = 0;

	for (uint64_t off = 0; off < len && n < max; off += GIB, n++) {
		iov[n].iov_base = p + off;
		iov[n].iov_len = len - off < GIB ? len - off : GIB;
	}
	return n;
}

/* --------------------------------------------------- 1: pin + unpin --- */

/* repetitions inside one timed sample so that small sizes last long
 * enough to time: at least 16384 pages per sample */
static unsigned long inner_iters(uint64_t len)
{
	unsigned long pages = len / PG;

	return pages >= 16384 ? 1 : 16384 / pages;
}

static int eng_pin(struct bench *b, uint64_t len, double *tot, double *pin, double *unpin)
{
	unsigned long n = len / PG, iters = inner_iters(len);
	double s[MAX_REPS], sp[MAX_REPS], su[MAX_REPS];
	struct pinmm *eng = NULL;
	struct pinmm_mm *mm = NULL;
	struct pinmm_page **pages = calloc(n, sizeof(*pages));
	uint64_t a;
	int ret = -ENOMEM;

	if (!pages)
		return ret;
	ECHECK(new_engine(&eng));
	ECHECK(pinmm_mm_create(eng, &mm));
	ECHECK(eng_region(mm, len, &a));
	/* r == -1: warm-up; the first longterm pin moves the pages out of
	 * the movable zone (longterm_unmovable), later ones find them moved */
	for (int r = -1; r < b->reps; r++) {
		double tp = 0, tu = 0;

		for (unsigned long it = 0; it < iters; it++) {
			double t0 = now_ns();

			for (unsigned long i = 0; i < n; i += BATCH) {
				unsigned long k = n - i < BATCH ? n - i : BATCH;
				long got = pinmm_pin_user_pages_fast(mm, a + i * PG, k,
								     PINMM_FOLL_WRITE |
								     PINMM_FOLL_LONGTERM,
								     pages + i);
				if (got != (long)k) {
					if (got > 0)
						pinmm_unpin_user_pages(pages + i, (unsigned long)got, false);
					if (i)
						pinmm_unpin_user_pages(pages, i, false);
					ECHECK(got < 0 ? got : -EFAULT);
				}
			}
			double t1 = now_ns();

			for (unsigned long i = 0; i < n; i += BATCH)
				pinmm_unpin_user_pages(pages + i, n - i < BATCH ? n - i : BATCH, true);
			double t2 = now_ns();

			tp += t1 - t0;
			tu += t2 - t1;
		}
		if (r < 0)
			continue;
		double np = (double)(n * iters);

		s[r] = (tp + tu) / np;
		sp[r] = tp / np;
		su[r] = tu / np;
	}
	*tot = median(s, b->reps);
	*pin = median(sp, b->reps);
	*unpin = median(su, b->reps);
	ret = 0;
out:
	if (mm)
		pinmm_mm_exit(mm);
	free_engine(eng);
	free(pages);
	return ret;
}

static int host_pin(struct bench *b, uint64_t len, double *tot, double *reg, double *unreg,
		    char *why, size_t wlen)
{
	unsigned long n = len / PG, iters = inner_iters(len);
	double s[MAX_REPS], sr[MAX_REPS], su[MAX_REPS];
	struct iovec iov[16];
	struct io_uring ring;
	uint8_t *p = host_region(len, true);
	unsigned niov;
	int ret;

	if (!p)
		return -errno;
	niov = host_iovecs(p, len, iov, 16);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret) {
		snprintf(why, wlen, "io_uring_queue_init: %s", strerror(-ret));
		munmap(p, len);
		return ret;
	}
	for (int r = -1; r < b->reps && !ret; r++) {
		double treg = 0, tunreg = 0;

		for (unsigned long it = 0; it < iters; it++) {
			double t0 = now_ns();

			ret = io_uring_register_buffers(&ring, iov, niov);
			double t1 = now_ns();

			if (ret) {
				snprintf(why, wlen, "io_uring_register_buffers of %lu pages: %s",
					 n, strerror(-ret));
				break;
			}
			ret = io_uring_unregister_buffers(&ring);
			double t2 = now_ns();

			if (ret) {
				snprintf(why, wlen, "io_uring_unregister_buffers: %s", strerror(-ret));
				break;
			}
			treg += t1 - t0;
			tunreg += t2 - t1;
		}
		if (r < 0 || ret)
			continue;
		double np = (double)(n * iters);

		s[r] = (treg + tunreg) / np;
		sr[r] = treg / np;
		su[r] = tunreg / np;
	}
	io_uring_queue_exit(&ring);
	munmap(p, len);
	if (ret)
		return ret;
	*tot = median(s, b->reps);
	*reg = median(sr, b->reps);
	*unreg = median(su, b->reps);
	return 0;
}

static int bench_pin(struct bench *b)
{
	static const uint64_t full[] = { 4 * KIB, 64 * KIB, MIB, 16 * MIB, 256 * MIB };
	static const uint64_t quick[] = { 4 * KIB, 64 * KIB, MIB };
	const uint64_t *sizes = b->opt->quick ? quick : full;
	int nsizes = b->opt->quick ? 3 : 5, ret;

	for (int i = 0; i < nsizes; i++) {
		char sz[16], name[32], what[64];
		double e = NAN, ep = NAN, eu = NAN, h = NAN, hr = NAN, hu = NAN;
		struct brow *r;

		size_name(sizes[i], sz, sizeof(sz));
		snprintf(name, sizeof(name), "pin-%lu", (unsigned long)(sizes[i] / KIB));
		snprintf(what, sizeof(what), "pin+unpin %s", sz);
		r = add_row(b, name, what, "ns/page", G_RATIO_LE, 0.5, true);
		ret = eng_pin(b, sizes[i], &e, &ep, &eu);
		if (ret)
			return ret;
		r->eng = e;
		if (!b->host_ok)
			snprintf(r->skip, sizeof(r->skip), "%s", b->host_why);
		else if (host_pin(b, sizes[i], &h, &hr, &hu, r->skip, sizeof(r->skip)) == 0)
			r->host = h;
		else if (!r->skip[0])
			snprintf(r->skip, sizeof(r->skip), "host mapping failed");
		/* the split of the largest size */
		if (i == nsizes - 1) {
			struct brow *a = add_row(b, "", "", "ns/page", G_NONE, 0, false);
			struct brow *c = add_row(b, "", "", "ns/page", G_NONE, 0, false);

			snprintf(a->name, sizeof(a->name), "%s.pin", name);
			snprintf(a->what, sizeof(a->what), "  of which pin / register");
			snprintf(c->name, sizeof(c->name), "%s.unpin", name);
			snprintf(c->what, sizeof(c->what), "  of which unpin / unregister");
			a->eng = ep;
			c->eng = eu;
			a->host = hr;
			c->host = hu;
			memcpy(a->skip, r->skip, sizeof(a->skip));
			memcpy(c->skip, r->skip, sizeof(c->skip));
		}
	}
	return 0;
}

/* ---------------------------------------------------------- 2: fault --- */

static int eng_fault(struct bench *b, uint64_t len, double *res)
{
	double s[MAX_REPS];
	struct pinmm *eng = NULL;
	struct pinmm_mm *mm = NULL;
	int ret = 0;

	ECHECK(new_engine(&eng));
	ECHECK(pinmm_mm_create(eng, &mm));
	/* r == -1: warm-up (the arena's frames are new to the host too) */
	for (int r = -1; r < b->reps; r++) {
		uint64_t a;

		ECHECK(pinmm_mmap(mm, 0, len, RW, PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M |
				  PINMM_MAP_NOHUGEPAGE, &a));
		double t0 = now_ns();

		for (uint64_t off = 0; off < len; off += PG)
			ECHECK(pinmm_store_fill(mm, a + off, (uint8_t)r, 1));
		double dt = now_ns() - t0;

		ECHECK(pinmm_munmap(mm, a, len));
		if (r >= 0)
			s[r] = dt / (double)(len / PG);
	}
	*res = median(s, b->reps);
out:
	if (mm)
		pinmm_mm_exit(mm);
	free_engine(eng);
	return ret;
}

static int host_fault(struct bench *b, uint64_t len, double *res)
{
	double s[MAX_REPS];

	for (int r = -1; r < b->reps; r++) {
		uint8_t *p = host_region(len, false);

		if (!p)
			return -errno;
		double t0 = now_ns();

		host_touch(p, len, (uint8_t)r);
		double dt = now_ns() - t0;

		munmap(p, len);
		if (r >= 0)
			s[r] = dt / (double)(len / PG);
	}
	*res = median(s, b->reps);
	return 0;
}

static int bench_fault(struct bench *b)
{
	uint64_t len = b->opt->quick ? 16 * MIB : 256 * MIB;
	char sz[16], what[64];
	struct brow *r;
	int ret;

	snprintf(what, sizeof(what), "first-touch write fault, %s", size_name(len, sz, sizeof(sz)));
	r = add_row(b, "fault-write", what, "ns/page", G_RATIO_LE, 0.25, true);
	ret = eng_fault(b, len, &r->eng);
	if (ret)
		return ret;
	/* a plain store needs neither root nor io_uring */
	return host_fault(b, len, &r->host);
}

/* ----------------------------------------------------------- 3: fork --- */

/* median ns per page of fork + child exit; before each fork the region is
 * written again (untimed), so each fork sees exclusive writable pages */
static int eng_forks(struct bench *b, struct pinmm_mm *mm, uint64_t a, uint64_t len, double *res,
		     double *res_fork)
{
	double s[MAX_REPS], sf[MAX_REPS];
	int ret = 0;

	for (int r = -1; r < b->reps; r++) {
		struct pinmm_mm *child;

		for (uint64_t off = 0; off < len; off += PG)
			ECHECK(pinmm_store_fill(mm, a + off, (uint8_t)r, 1));
		double t0 = now_ns();

		ECHECK(pinmm_fork(mm, &child));
		double tf = now_ns() - t0;

		pinmm_mm_exit(child);
		double dt = now_ns() - t0;

		if (r >= 0) {
			s[r] = dt / (double)(len / PG);
			sf[r] = tf / (double)(len / PG);
		}
	}
	*res = median(s, b->reps);
	*res_fork = median(sf, b->reps);
out:
	return ret;
}

static int eng_fork(struct bench *b, uint64_t len, double *none, double *pinned,
		    double *none_f, double *pinned_f)
{
	unsigned long n = len / PG;
	struct pinmm_page **pages = calloc(n, sizeof(*pages));
	struct pinmm *eng = NULL;
	struct pinmm_mm *mm = NULL;
	unsigned long held = 0;
	uint64_t a;
	int ret = -ENOMEM;

	if (!pages)
		return ret;
	ECHECK(new_engine(&eng));
	ECHECK(pinmm_mm_create(eng, &mm));
	ECHECK(eng_region(mm, len, &a));
	ECHECK(eng_forks(b, mm, a, len, none, none_f));
	for (; held < n; held += BATCH) {
		long got = pinmm_pin_user_pages_fast(mm, a + held * PG, BATCH,
						     PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
						     pages + held);
		if (got != (long)BATCH) {
			if (got > 0)
				pinmm_unpin_user_pages(pages + held, (unsigned long)got, false);
			ECHECK(got < 0 ? got : -EFAULT);
		}
	}
	ECHECK(eng_forks(b, mm, a, len, pinned, pinned_f));
	ret = 0;
out:
	if (held)
		pinmm_unpin_user_pages(pages, held, true);
	if (mm)
		pinmm_mm_exit(mm);
	free_engine(eng);
	free(pages);
	return ret;
}

static int host_forks(struct bench *b, uint8_t *p, uint64_t len, double *res, double *res_fork)
{
	double s[MAX_REPS], sf[MAX_REPS];

	for (int r = -1; r < b->reps; r++) {
		int status;

		host_touch(p, len, (uint8_t)r);
		double t0 = now_ns();
		pid_t pid = fork();

		if (pid < 0)
			return -errno;
		if (pid == 0)
			_exit(0);
		double tf = now_ns() - t0;

		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return -errno;
		double dt = now_ns() - t0;

		if (r >= 0) {
			s[r] = dt / (double)(len / PG);
			sf[r] = tf / (double)(len / PG);
		}
	}
	*res = median(s, b->reps);
	*res_fork = median(sf, b->reps);
	return 0;
}

static int host_fork(struct bench *b, uint64_t len, double *none, double *pinned,
		     double *none_f, double *pinned_f, char *why, size_t wlen)
{
	uint8_t *p = host_region(len, true);
	struct iovec iov[16];
	struct io_uring ring;
	int ret;

	if (!p)
		return -errno;
	ret = host_forks(b, p, len, none, none_f);
	if (ret || !b->host_ok) {
		if (!ret)
			snprintf(why, wlen, "%s", b->host_why);
		munmap(p, len);
		return ret;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret) {
		snprintf(why, wlen, "io_uring_queue_init: %s", strerror(-ret));
		munmap(p, len);
		return 0;
	}
	ret = io_uring_register_buffers(&ring, iov, host_iovecs(p, len, iov, 16));
	if (ret) {
		snprintf(why, wlen, "io_uring_register_buffers of %lu pages: %s",
			 (unsigned long)(len / PG), strerror(-ret));
	} else {
		ret = host_forks(b, p, len, pinned, pinned_f);
		io_uring_unregister_buffers(&ring);
	}
	io_uring_queue_exit(&ring);
	munmap(p, len);
	return why[0] ? 0 : ret;	/* a refused registration: skipped */
}

/*
 * The host's forks, timed in a process that holds nothing but the region:
 * this one maps the engine's arena, whose page tables every fork() here
 * would copy too (256 MiB measured 178 ns/page for fork alone this way,
 * against about 70 in a bare process). A fresh exec of pinmm runs
 * host_fork() and sends its results back through a pipe.
 */
#define FORK_CHILD_VERB "__bench-fork-child"

struct fork_report {
	int ret;
	double v[4];		/* none, pinned, none (fork alone), pinned (alone) */
	char why[200];
};

int pinmm_host_bench_fork_child(int argc, char **argv)
{
	struct fork_report rep = { 0 };
	struct bench b = { .host_ok = true };
	char *end;

	if (argc != 4)
		return 2;
	uint64_t len = strtoull(argv[1], &end, 10);
	b.reps = atoi(argv[2]);
	int fd = atoi(argv[3]);
	if (*end || !len || b.reps < 1 || b.reps > MAX_REPS || fd < 3)
		return 2;
	rep.ret = host_fork(&b, len, &rep.v[0], &rep.v[1], &rep.v[2], &rep.v[3], rep.why,
			    sizeof(rep.why));
	return write(fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep) ? 0 : 1;
}

/* Is this process the pinmm binary (which has the child verb)? */
static bool self_is_pinmm(void)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0)
		return false;
	path[n] = 0;
	const char *base = strrchr(path, '/');
	return !strcmp(base ? base + 1 : path, "pinmm");
}

static int host_fork_fresh(struct bench *b, uint64_t len, double *none, double *pinned,
			   double *none_f, double *pinned_f, char *why, size_t wlen)
{
	struct fork_report rep = { .ret = -EIO };
	int fds[2], status;

	if (!self_is_pinmm())	/* a program linking the library: in place */
		return host_fork(b, len, none, pinned, none_f, pinned_f, why, wlen);
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		char l[32], r[16], f[16];

		snprintf(l, sizeof(l), "%llu", (unsigned long long)len);
		snprintf(r, sizeof(r), "%d", b->reps);
		snprintf(f, sizeof(f), "%d", fds[1]);
		fcntl(fds[1], F_SETFD, 0);	/* the one fd it keeps */
		execl("/proc/self/exe", "pinmm", FORK_CHILD_VERB, l, r, f, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	ssize_t got = read(fds[0], &rep, sizeof(rep));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(rep)) {
		snprintf(why, wlen, "the fresh process for the host's forks failed (status %d)",
			 status);
		return 0;
	}
	*none = rep.v[0];
	*pinned = rep.v[1];
	*none_f = rep.v[2];
	*pinned_f = rep.v[3];
	snprintf(why, wlen, "%s", rep.why);
	if (!rep.ret && !b->host_ok && !why[0])
		snprintf(why, wlen, "%s", b->host_why);
	return rep.ret;
}

static int bench_fork(struct bench *b)
{
	uint64_t len = b->opt->quick ? 16 * MIB : 256 * MIB;
	char sz[16], what[64];
	struct brow *rn, *rp, *rr, *fn, *fp, *fr;
	int ret;

	size_name(len, sz, sizeof(sz));
	snprintf(what, sizeof(what), "fork+wait %s, none pinned", sz);
	rn = add_row(b, "fork", what, "ns/page", G_NONE, 0, true);
	snprintf(what, sizeof(what), "fork+wait %s, all pinned", sz);
	rp = add_row(b, "fork-pinned", what, "ns/page", G_RATIO_LE, 0.5, true);
	rr = add_row(b, "fork-ratio", "fork+wait pinned / unpinned", "x", G_NONE, 0, false);
	/* the same forks, up to the return of fork() in the parent (the
	 * child's exit not included): what HOST-FACTS quotes */
	fn = add_row(b, "fork-only", "  fork() alone, none pinned", "ns/page", G_NONE, 0, false);
	fp = add_row(b, "fork-only-pinned", "  fork() alone, all pinned", "ns/page", G_NONE, 0, false);
	fr = add_row(b, "fork-only-ratio", "  fork() alone, pinned / unpinned", "x", G_NONE, 0, false);
	ret = eng_fork(b, len, &rn->eng, &rp->eng, &fn->eng, &fp->eng);
	if (ret)
		return ret;
	rr->eng = rp->eng / rn->eng;
	fr->eng = fp->eng / fn->eng;
	ret = host_fork_fresh(b, len, &rn->host, &rp->host, &fn->host, &fp->host, rp->skip,
			      sizeof(rp->skip));
	if (ret)
		return ret;
	if (isnan(rp->host)) {
		memcpy(rr->skip, rp->skip, sizeof(rr->skip));
		return 0;
	}
	rr->host = rp->host / rn->host;
	fr->host = fp->host / fn->host;
	return 0;
}

/* ------------------------------------------------------------ 4: KSM --- */

/* every page gets an 8-byte tag with one twin (pages 2k and 2k+1); salt
 * differs per repetition, so no page matches a stale stable-tree entry */
static uint64_t ksm_tag(uint64_t i, int salt)
{
	return ((uint64_t)(salt + 2) << 40) | (i / 2 + 1);
}

static int eng_ksm(struct bench *b, uint64_t len, double *res)
{
	unsigned long n = len / PG;
	double s[MAX_REPS];
	struct pinmm *eng = NULL;
	struct pinmm_mm *mm = NULL;
	int ret = 0;

	ECHECK(new_engine(&eng));
	ECHECK(pinmm_mm_create(eng, &mm));
	for (int r = -1; r < b->reps; r++) {
		uint64_t a;
		long merged = 0;

		ECHECK(pinmm_mmap(mm, 0, len, RW, PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M |
				  PINMM_MAP_NOHUGEPAGE, &a));
		for (unsigned long i = 0; i < n; i++) {
			uint64_t tag = ksm_tag(i, r);

			ECHECK(pinmm_store(mm, a + i * PG, &tag, sizeof(tag)));
		}
		ECHECK(pinmm_madvise(mm, a, len, PINMM_MADV_MERGEABLE));
		double t0 = now_ns();

		for (int pass = 0; pass < 8 && merged < (long)n; pass++) {
			merged = pinmm_ksm_scan(eng, 1);
			ECHECK(merged);
		}
		double dt = now_ns() - t0;

		ECHECK(pinmm_munmap(mm, a, len));
		if (merged < (long)n) {
			fprintf(stderr, "pinmm bench: engine KSM merged %ld of %lu pages\n", merged, n);
			ECHECK(-EAGAIN);
		}
		if (r >= 0)
			s[r] = dt / (double)n;
	}
	*res = median(s, b->reps);
out:
	if (mm)
		pinmm_mm_exit(mm);
	free_engine(eng);
	return ret;
}

/* pages of this process merged by KSM (6.1+), else the global count */
static long host_ksm_merged(void)
{
	long v = pm_host_sys_long("/proc/self/ksm_merging_pages");

	if (v >= 0)
		return v;
	return pm_host_sys_long("/sys/kernel/mm/ksm/pages_sharing") +
	       pm_host_sys_long("/sys/kernel/mm/ksm/pages_shared");
}

static int host_ksm(struct bench *b, uint64_t len, double *res, char *why, size_t wlen)
{
	unsigned long n = len / PG;
	double s[MAX_REPS];
	long level;
	int ret;

	if ((ret = pm_host_sys_set(HS_KSM_RUN, "0")) ||
	    (ret = pm_host_sys_set(HS_KSM_PAGES, "10000")) ||
	    (ret = pm_host_sys_set(HS_KSM_SLEEP, "0"))) {
		snprintf(why, wlen, "cannot set /sys/kernel/mm/ksm: %s", strerror(-ret));
		pm_host_restore();
		return 0;
	}
	if (access("/sys/kernel/mm/ksm/smart_scan", F_OK) == 0)
		pm_host_sys_set(HS_KSM_SMART, "0");
	level = host_ksm_merged();
	for (int r = -1; r < b->reps && !why[0]; r++) {
		uint8_t *p = host_region(len, false);
		long base, got = 0;

		if (!p) {
			ret = -errno;
			break;
		}
		for (unsigned long i = 0; i < n; i++) {
			uint64_t tag = ksm_tag(i, r);

			memcpy(p + i * PG, &tag, sizeof(tag));
		}
		if (madvise(p, len, MADV_MERGEABLE)) {
			snprintf(why, wlen, "madvise(MADV_MERGEABLE): %s", strerror(errno));
			munmap(p, len);
			break;
		}
		base = host_ksm_merged();
		double t0 = now_ns(), dt;

		pm_host_sys_set(HS_KSM_RUN, "1");
		for (;;) {
			got = host_ksm_merged() - base;
			dt = now_ns() - t0;
			if (got >= (long)n || dt > 20e9)
				break;
			usleep(200);
		}
		munmap(p, len);
		/* the count of an unmapped page drops only when ksmd next
		 * meets its rmap item: let it (untimed), or the next
		 * repetition's merges would be hidden by this one's drop */
		for (double t1 = now_ns(); host_ksm_merged() > level && now_ns() - t1 < 5e9;)
			usleep(200);
		pm_host_sys_set(HS_KSM_RUN, "0");
		if (got < (long)n)
			snprintf(why, wlen, "ksmd merged %ld of %lu pages in %.0f s", got, n, dt / 1e9);
		else if (r >= 0)
			s[r] = dt / (double)n;
	}
	pm_host_restore();
	if (!ret && !why[0])
		*res = median(s, b->reps);
	return ret;
}

static int bench_ksm(struct bench *b)
{
	uint64_t len = b->opt->quick ? 4 * MIB : 64 * MIB;
	char sz[16], what[64];
	struct brow *r;
	int ret;

	snprintf(what, sizeof(what), "KSM merge, %s in pairs", size_name(len, sz, sizeof(sz)));
	r = add_row(b, "ksm-merge", what, "ns/page", G_NONE, 0, true);
	ret = eng_ksm(b, len, &r->eng);
	if (ret)
		return ret;
	if (!b->ksm_ok) {
		snprintf(r->skip, sizeof(r->skip), "%s", b->ksm_why);
		return 0;
	}
	return host_ksm(b, len, &r->host, r->skip, sizeof(r->skip));
}

/* --------------------------------------------------------- reporting --- */

struct goal_res {
	const char *name, *text;
	int state;		/* 1 met, 0 missed, -1 not assessed */
	char detail[160];
};

static int row_goal(const struct brow *r)
{
	if (r->goal == G_NONE)
		return -2;
	if (isnan(r->eng) || isnan(r->host) || r->host <= 0)
		return -1;
	if (r->goal == G_RATIO_LE)
		return r->eng / r->host <= r->limit;
	return r->eng < r->host;
}

static void goal_text(const struct brow *r, char *buf, size_t n)
{
	if (r->goal == G_RATIO_LE)
		snprintf(buf, n, "<= %.2gx", r->limit);
	else if (r->goal == G_ENGINE_LT_HOST)
		snprintf(buf, n, "< host");
	else
		buf[0] = 0;
}

static void goals(struct bench *b, struct goal_res g[3])
{
	g[0] = (struct goal_res){ "pin", "engine pin+unpin per page <= 0.5x host register+unregister (every size)", 1, "" };
	g[1] = (struct goal_res){ "fault", "engine first-touch fault per page <= 0.25x host", 1, "" };
	g[2] = (struct goal_res){ "fork", "engine fork+wait with everything pinned, per page <= 0.5x the host's", 1, "" };
	double worst = 0;
	const char *worst_at = "";

	for (int i = 0; i < b->nr; i++) {
		const struct brow *r = &b->rows[i];
		int s = row_goal(r), k = !strncmp(r->name, "pin-", 4) ? 0
					: !strcmp(r->name, "fault-write") ? 1 : 2;

		if (s == -2)
			continue;
		if (s == -1) {
			g[k].state = -1;
			snprintf(g[k].detail, sizeof(g[k].detail), "host skipped: %s", r->skip);
			continue;
		}
		if (g[k].state == 1 && !s)
			g[k].state = 0;
		if (k == 0) {
			double ratio = r->eng / r->host;

			if (ratio >= worst) {
				worst = ratio;
				worst_at = r->what + strlen("pin+unpin ");
			}
			if (g[k].state >= 0)
				snprintf(g[k].detail, sizeof(g[k].detail), "worst %.2fx at %s",
					 worst, worst_at);
		} else if (k == 1) {
			snprintf(g[k].detail, sizeof(g[k].detail), "%.2fx (%.0f vs %.0f ns/page)",
				 r->eng / r->host, r->eng, r->host);
		} else {
			snprintf(g[k].detail, sizeof(g[k].detail), "%.2fx (%.0f vs %.0f ns/page)",
				 r->eng / r->host, r->eng, r->host);
		}
	}
}

static const char *state_str(int s)
{
	return s == 1 ? "met" : s == 0 ? "MISSED" : "not assessed";
}

static void fmt_val(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else if (v < 10)
		snprintf(buf, n, "%.2f", v);
	else
		snprintf(buf, n, "%.1f", v);
}

static void print_table(struct bench *b, FILE *out, const char *when, const char *kernel,
			const double load[2], const struct goal_res g[3])
{
	fprintf(out, "pinmm bench: %s, Linux %s, load average (1 min) %.2f at start, %.2f at end, "
		"median of %d reps%s\n", when, kernel, load[0], load[1], b->reps,
		b->opt->quick ? " (--quick)" : "");
	fprintf(out, "%-34s %-8s %10s %10s %8s  %s\n", "row", "unit", "engine", "host",
		"ratio", "goal");
	for (int i = 0; i < b->nr; i++) {
		const struct brow *r = &b->rows[i];
		char e[32], h[32], ratio[32], gt[32], gl[64];
		int s = row_goal(r);

		fmt_val(e, sizeof(e), r->eng);
		fmt_val(h, sizeof(h), r->host);
		if (!isnan(r->eng) && !isnan(r->host) && r->host > 0)
			snprintf(ratio, sizeof(ratio), "%.3f", r->eng / r->host);
		else
			snprintf(ratio, sizeof(ratio), "-");
		goal_text(r, gt, sizeof(gt));
		snprintf(gl, sizeof(gl), "%s%s%s", gt, s >= -1 ? " " : "", s >= -1 ? state_str(s) : "");
		fprintf(out, "%-34s %-8s %10s %10s %8s  %s\n", r->what, r->unit, e, h, ratio, gl);
	}
	for (int i = 0; i < b->nr; i++)
		if (b->rows[i].skip[0] && isnan(b->rows[i].host) && b->rows[i].what[0] != ' ')
			fprintf(out, "skipped host side of %s: %s\n", b->rows[i].what, b->rows[i].skip);
	fputc('\n', out);
	for (int k = 0; k < 3; k++)
		fprintf(out, "goal %-5s %-6s %s: %s\n", g[k].name, state_str(g[k].state), g[k].text,
			g[k].detail);
}

static json_object *jnum(double v)
{
	return isnan(v) ? NULL : json_object_new_double(v);
}

static void print_json(struct bench *b, FILE *out, const char *when, const char *kernel,
		       const double load[2], const struct goal_res g[3])
{
	json_object *root = pm_json_document(), *rows = json_object_new_array(),
		    *jg = json_object_new_array(), *jl = json_object_new_array();

	json_object_object_add(root, "date", json_object_new_string(when));
	json_object_object_add(root, "kernel", json_object_new_string(kernel));
	for (int i = 0; i < 2; i++)
		json_object_array_add(jl, json_object_new_double(load[i]));
	json_object_object_add(root, "loadavg_start_end", jl);
	json_object_object_add(root, "reps", json_object_new_int(b->reps));
	json_object_object_add(root, "quick", json_object_new_boolean(b->opt->quick));
	for (int i = 0; i < b->nr; i++) {
		const struct brow *r = &b->rows[i];
		json_object *o = json_object_new_object();
		char gt[32];
		int s = row_goal(r);

		json_object_object_add(o, "name", json_object_new_string(r->name));
		json_object_object_add(o, "what", json_object_new_string(r->what[0] == ' ' ?
					r->what + 2 : r->what));
		json_object_object_add(o, "unit", json_object_new_string(r->unit));
		json_object_object_add(o, "engine", jnum(r->eng));
		json_object_object_add(o, "host", jnum(r->host));
		json_object_object_add(o, "ratio", !isnan(r->eng) && !isnan(r->host) && r->host > 0
				       ? json_object_new_double(r->eng / r->host) : NULL);
		goal_text(r, gt, sizeof(gt));
		if (gt[0]) {
			json_object_object_add(o, "goal", json_object_new_string(gt));
			json_object_object_add(o, "goal_met", s >= 0 ? json_object_new_boolean(s) : NULL);
		}
		if (r->skip[0] && isnan(r->host))
			json_object_object_add(o, "host_skipped", json_object_new_string(r->skip));
		json_object_array_add(rows, o);
	}
	json_object_object_add(root, "rows", rows);
	for (int k = 0; k < 3; k++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(g[k].name));
		json_object_object_add(o, "goal", json_object_new_string(g[k].text));
		json_object_object_add(o, "state", json_object_new_string(
			g[k].state == 1 ? "met" : g[k].state == 0 ? "missed" : "not assessed"));
		json_object_object_add(o, "detail", json_object_new_string(g[k].detail));
		json_object_array_add(jg, o);
	}
	json_object_object_add(root, "goals", jg);
	fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* A clustered bar chart of the per-page costs, log scale, via gnuplot. */
static int plot(struct bench *b, const char *file, const char *when, const char *kernel)
{
	FILE *gp;
	int st;

	if (access("/usr/bin/gnuplot", X_OK) && system("command -v gnuplot >/dev/null 2>&1")) {
		fprintf(stderr, "pinmm bench: --plot: gnuplot not found (Debian: gnuplot-nox)\n");
		return -ENOENT;
	}
	gp = popen("gnuplot", "w");
	if (!gp)
		return -errno;
	fprintf(gp, "set terminal svg size 960,600 dynamic font 'sans,11' noenhanced background rgb 'white'\n");
	fprintf(gp, "set output '%s'\n", file);
	fprintf(gp, "set title 'pinmm bench: engine vs host kernel, ns per 4 KiB page "
		"(%s, Linux %s)'\n", when, kernel);
	fprintf(gp, "set style data histograms\nset style histogram clustered gap 1\n"
		"set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
		"set logscale y\nset yrange [1:*]\nset ylabel 'ns per page (log)'\n"
		"set grid ytics\nset xtics rotate by 30 right\nset key top left\n"
		"set bmargin 10\nset rmargin 4\nset lmargin 12\n");
	fprintf(gp, "$d << EOD\n");
	for (int i = 0; i < b->nr; i++) {
		const struct brow *r = &b->rows[i];

		if (!r->plot || isnan(r->eng))
			continue;
		fprintf(gp, "\"%s\" %g ", r->what, r->eng);
		if (isnan(r->host))
			fprintf(gp, "NaN\n");
		else
			fprintf(gp, "%g\n", r->host);
	}
	fprintf(gp, "EOD\n");
	fprintf(gp, "plot $d using 2:xtic(1) title 'engine (pinmm)' lc rgb '#2a7fbf', "
		"'' using 3 title 'host kernel' lc rgb '#d9822b'\n");
	st = pclose(gp);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "pinmm bench: --plot: gnuplot failed (status %d)\n", st);
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------ driver --- */

int pinmm_host_bench(const struct pinmm_host_bench_options *opt, FILE *out)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct rlimit saved_rl, rl = { RLIM_INFINITY, RLIM_INFINITY };
	bool rl_raised = false;
	struct goal_res g[3];
	char when[64], kernel[128];
	double load[2] = { 0 };
	struct utsname u;
	time_t t = time(NULL);
	int ret = 0, lock = -1;

	if (!b)
		return -ENOMEM;
	b->opt = opt;
	b->reps = opt->reps < 1 ? 5 : opt->reps > MAX_REPS ? MAX_REPS : opt->reps;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime(&t));
	snprintf(kernel, sizeof(kernel), "%s", uname(&u) ? "?" : u.release);
	getloadavg(load, 1);

	b->host_ok = pinmm_host_available(b->host_why, sizeof(b->host_why)) == 0;
	if (!b->host_ok && geteuid() != 0)
		snprintf(b->host_why, sizeof(b->host_why),
			 "not root (RLIMIT_MEMLOCK caps fixed buffers; KSM's sysfs knobs)");
	if (!b->host_ok) {
		snprintf(b->ksm_why, sizeof(b->ksm_why), "%s", b->host_why);
	} else if (access("/sys/kernel/mm/ksm/run", W_OK)) {
		snprintf(b->ksm_why, sizeof(b->ksm_why), "KSM not available (/sys/kernel/mm/ksm/run: %s)",
			 strerror(errno));
	} else {
		b->ksm_ok = true;
	}
	if (b->host_ok) {
		/* root: fixed buffers are not charged with CAP_IPC_LOCK, but
		 * the ring is; raise the limit for the run, restore it after */
		if (!getrlimit(RLIMIT_MEMLOCK, &saved_rl) && !setrlimit(RLIMIT_MEMLOCK, &rl))
			rl_raised = true;
		/* one host run at a time (KSM's knobs are global); the guard
		 * restores them on SIGINT/SIGTERM/SIGHUP and at exit */
		pm_host_guard_install();
		lock = pm_host_lock(NULL);
		if (lock < 0)
			ret = lock;
	}
	if (!opt->json)
		fprintf(stderr, "pinmm bench: measuring (%s%d reps)...\n",
			opt->quick ? "quick, " : "", b->reps);
	if (!ret)
		ret = bench_pin(b);
	if (!ret)
		ret = bench_fault(b);
	if (!ret)
		ret = bench_fork(b);
	if (!ret)
		ret = bench_ksm(b);
	if (b->host_ok) {
		pm_host_restore();
		pm_host_unlock(lock);
		if (rl_raised)
			setrlimit(RLIMIT_MEMLOCK, &saved_rl);
	}
	if (ret) {
		fprintf(stderr, "pinmm bench: %s\n", strerror(-ret));
		free(b);
		return ret;
	}
	getloadavg(&load[1], 1);
	goals(b, g);
	if (opt->json)
		print_json(b, out, when, kernel, load, g);
	else
		print_table(b, out, when, kernel, load, g);
	fflush(out);
	if (opt->plot && (ret = plot(b, opt->plot, when, kernel)) < 0) {
		free(b);
		return ret;
	}
	ret = 0;
	for (int k = 0; k < 3; k++) {
		if (g[k].state == 0)
			ret = 1;
		else if (g[k].state < 0 && ret == 0)
			ret = 4;
	}
	free(b);
	return ret;
}
