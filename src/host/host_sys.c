/* SPDX-License-Identifier: MIT */
/*
 * host_sys.c - what the host backend changes on the machine, and how it
 * is put back whatever happens: KSM's and khugepaged's sysfs knobs (saved
 * and journalled before the first change, restored at the end, at exit
 * and from the handlers of every terminating signal), the worker process
 * group (killed), the temp dir (removed). What SIGKILL, the OOM killer or
 * a crash leaves behind stays in /run/pinmm/journal (host_journal.c): the
 * next run takes the lock, puts it back, then starts. Restoring uses only
 * async-signal-safe calls (open, write, fsync, rename, close, kill,
 * waitpid, unlink, rmdir); the main path blocks the signals while it
 * changes what the handlers read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"

static const char *const sys_path[HS_NR] = {
	[HS_KSM_RUN] = "/sys/kernel/mm/ksm/run",
	[HS_KSM_PAGES] = "/sys/kernel/mm/ksm/pages_to_scan",
	[HS_KSM_SLEEP] = "/sys/kernel/mm/ksm/sleep_millisecs",
	[HS_KSM_SMART] = "/sys/kernel/mm/ksm/smart_scan",
	[HS_THP_SCAN_SLEEP] = "/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs",
	[HS_THP_ENABLED] = "/sys/kernel/mm/transparent_hugepage/enabled",
	[HS_THP_ALLOC_SLEEP] = "/sys/kernel/mm/transparent_hugepage/khugepaged/alloc_sleep_millisecs",
#define MTHP(order, kb) \
	[HS_MTHP_ORDER2 + (order) - 2] = "/sys/kernel/mm/transparent_hugepage/hugepages-" #kb "kB/enabled"
	MTHP(2, 16), MTHP(3, 32), MTHP(4, 64), MTHP(5, 128), MTHP(6, 256), MTHP(7, 512),
	MTHP(8, 1024), MTHP(9, 2048),
#undef MTHP
	[HS_NR_HUGEPAGES] = "/proc/sys/vm/nr_hugepages",
};

static struct {
	char val[64];
	size_t len;
	volatile sig_atomic_t saved;
} sys_saved[HS_NR];

/* the signals that end a run: restored first, then the default action */
static const int guard_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
				  SIGUSR1, SIGUSR2, SIGALRM };
#define NR_GUARD_SIGS (int)(sizeof(guard_sigs) / sizeof(guard_sigs[0]))

/* set up for the run besides the knobs, oldest first (pm_host_guard_add) */
#define MAX_UNDO 16
static struct {
	const struct pm_undo *u;
	char a[128], b[16];
} undo_item[MAX_UNDO];
static volatile sig_atomic_t nr_undo;
/* the kinds a journal line may name: never anything else */
static const struct pm_undo *const undo_kinds[] = { &pm_undo_zram, &pm_undo_swap,
						     &pm_undo_uprobe };
#define NR_UNDO_KINDS (int)(sizeof(undo_kinds) / sizeof(undo_kinds[0]))

static char tmp_dir[256];
static volatile pid_t guard_pgid, guard_owner;
static int lock_fd = -1, legacy_fd = -1;
/* static: the handlers' stacks are small */
static struct pm_journal journal, undo_journal;
/* the journal on disk is this process's: removed at cleanup (never one a
 * run stopped while holding the lock left, when we gave up waiting) */
static volatile sig_atomic_t journal_ours;
volatile int pm_host_timed_out;

int pm_host_sys_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

long pm_host_sys_long(const char *path)
{
	char b[64];

	if (pm_host_sys_read(path, b, sizeof(b)))
		return -1;
	return strtol(b, NULL, 10);
}

static int write_str(const char *path, const char *val, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

void pm_host_cat(char *dst, size_t len, const char *a, const char *b, const char *c)
{
	const char *part[] = { a, b, c };
	size_t n = 0;

	for (int i = 0; i < 3; i++)
		for (const char *s = part[i]; s && *s && n + 1 < len; s++)
			dst[n++] = *s;
	dst[n] = 0;
}

int pm_host_sys_write(const char *path, const char *val)
{
	return write_str(path, val, strlen(val));
}

/* the main path changes what the handlers read with the signals blocked */
static void guard_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < NR_GUARD_SIGS; i++)
		sigaddset(&set, guard_sigs[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void guard_unblock(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* the journal says what is to be put back now: the saved knobs, the
 * temp dir; none: no journal */
static int journal_sync(void)
{
	int ret;

	pm_host_journal_start(&undo_journal);
	for (int i = 0; i < nr_undo; i++)
		pm_host_journal_add(&undo_journal, undo_item[i].u->key, undo_item[i].a,
				    undo_item[i].b[0] ? undo_item[i].b : NULL);
	ret = pm_host_journal_commit(&undo_journal, PM_JOURNAL_UNDO);
	if (ret)
		return ret;
	pm_host_journal_start(&journal);
	for (int s = 0; s < HS_NR; s++)
		if (sys_saved[s].saved)
			pm_host_journal_add(&journal, "knob", sys_path[s], sys_saved[s].val);
	if (tmp_dir[0])
		pm_host_journal_add(&journal, "tmpdir", tmp_dir, NULL);
	ret = pm_host_journal_commit(&journal, PM_JOURNAL);
	if (!ret)
		journal_ours = journal.entries + undo_journal.entries > 0;
	return ret;
}

int pm_host_sys_set(enum hsys s, const char *val)
{
	sigset_t old;
	int ret = 0;

	guard_block(&old);
	if (!sys_saved[s].saved) {
		char b[64];

		ret = pm_host_sys_read(sys_path[s], b, sizeof(b));
		if (ret)
			goto out;
		char *o = strchr(b, '['), *e = o ? strchr(o, ']') : NULL;

		if (o && e) {	/* "always [madvise] never": the chosen one */
			*e = 0;
			memmove(b, o + 1, strlen(o + 1) + 1);
		}
		snprintf(sys_saved[s].val, sizeof(sys_saved[s].val), "%s", b);
		sys_saved[s].len = strlen(sys_saved[s].val);
		sys_saved[s].saved = 1;
		/* on disk before the knob changes, or no change */
		ret = journal_sync();
		if (ret) {
			sys_saved[s].saved = 0;
			goto out;
		}
	}
	ret = write_str(sys_path[s], val, strlen(val));
out:
	guard_unblock(&old);
	return ret;
}

static void restore_knobs(void)
{
	/* run first: stop ksmd before its speed goes back */
	for (int s = 0; s < HS_NR; s++) {
		if (!sys_saved[s].saved)
			continue;
		write_str(sys_path[s], sys_saved[s].val, sys_saved[s].len);
		sys_saved[s].saved = 0;
	}
}

/* one word of a journal line: no blank, no newline */
static bool journal_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n < max && !strpbrk(s, " \t\n");
}

int pm_host_guard_add(const struct pm_undo *u, const char *a, const char *b)
{
	sigset_t old;
	int ret;

	if (!journal_word(a, sizeof(undo_item[0].a)) ||
	    (b && !journal_word(b, sizeof(undo_item[0].b))))
		return -EINVAL;
	guard_block(&old);
	if (nr_undo == MAX_UNDO) {
		guard_unblock(&old);
		return -ENOSPC;
	}
	undo_item[nr_undo].u = u;
	snprintf(undo_item[nr_undo].a, sizeof(undo_item[0].a), "%s", a);
	snprintf(undo_item[nr_undo].b, sizeof(undo_item[0].b), "%s", b ? b : "");
	nr_undo++;
	/* on disk before the change, or no change */
	ret = journal_sync();
	if (ret)
		nr_undo--;
	guard_unblock(&old);
	return ret;
}

/* undo item i; gone from the list when done (the journal: the caller's) */
static int undo_one(int i)
{
	int ret = undo_item[i].u->undo(undo_item[i].a, undo_item[i].b[0] ? undo_item[i].b : NULL);

	if (ret)
		return ret;
	for (int j = i; j + 1 < nr_undo; j++)
		undo_item[j] = undo_item[j + 1];
	nr_undo--;
	return 0;
}

int pm_host_guard_undo(const struct pm_undo *u, const char *a)
{
	sigset_t old;
	int ret = -ENOENT;

	guard_block(&old);
	for (int i = nr_undo; i-- > 0;) {
		if (undo_item[i].u != u || strcmp(undo_item[i].a, a))
			continue;
		ret = undo_one(i);
		if (!ret)
			journal_sync();
		break;
	}
	guard_unblock(&old);
	return ret;
}

void pm_host_restore(void)
{
	sigset_t old;

	guard_block(&old);
	restore_knobs();
	journal_sync();
	guard_unblock(&old);
}

/* The next "KEY A [B]" line of the text at *cur: 0 and its words, or -1
 * at the end (a line without A is passed over). */
static int next_line(char **cur, char **key, char **a, char **b)
{
	while (*cur && **cur) {
		char *line = *cur, *next = strchr(line, '\n');

		if (next)
			*next++ = 0;
		*cur = next;
		*a = strchr(line, ' ');
		if (!*a)
			continue;
		*(*a)++ = 0;
		*b = strchr(*a, ' ');
		if (*b)
			*(*b)++ = 0;
		*key = line;
		return 0;
	}
	return -1;
}

/* What a killed run's journal.undo lists, undone newest first (its probes,
 * then swap, then the device) and said on stderr; the file removed. The
 * number undone, or -errno (the file kept: the next run tries again). */
static int recover_undo(void)
{
	static char text[sizeof(undo_journal.text)];
	struct { const struct pm_undo *u; const char *a, *b; } un[MAX_UNDO];
	char *cur = text, *key, *a, *b;
	int nu = 0, n = 0, ret = 0;
	long pid = 0;
	ssize_t len = pm_host_journal_read(PM_JOURNAL_UNDO, text, sizeof(text));

	if (len == -ENOENT)
		return 0;
	if (len < 0)
		return (int)len;
	while (!next_line(&cur, &key, &a, &b)) {
		if (!strcmp(key, "pid"))
			pid = strtol(a, NULL, 10);
		/* only the kinds this file knows */
		for (int k = 0; k < NR_UNDO_KINDS && nu < MAX_UNDO; k++)
			if (!strcmp(key, undo_kinds[k]->key))
				un[nu++] = (typeof(un[0])){ undo_kinds[k], a, b };
	}
	while (nu-- > 0) {
		int err = un[nu].u->undo(un[nu].a, un[nu].b);

		if (err == -EINVAL) {
			/* not a line a run writes: touch nothing, drop it */
			fprintf(stderr, "pinmm host: ignored the journal's line \"%s %s%s%s\": not "
				"one a run writes\n", un[nu].u->key, un[nu].a, un[nu].b ? " " : "",
				un[nu].b ? un[nu].b : "");
			continue;
		}
		fprintf(stderr, "pinmm host: %s %s %s (left by the killed run %ld)%s%s\n",
			err ? "cannot remove" : "removed", un[nu].u->what, un[nu].a, pid,
			err ? ": " : "", err ? strerror(-err) : "");
		if (err)
			ret = err;
		else
			n++;
	}
	if (ret)
		return ret;
	ret = pm_host_journal_remove(PM_JOURNAL_UNDO);
	return ret ? ret : n;
}

/* What a killed run's journals list, put back (journal.undo first, then
 * the knobs in sys_path order, run first) and said on stderr; the journals
 * removed. The number put back, or -errno (what is left is kept: the next
 * run tries again). */
static int recover(void)
{
	static char text[sizeof(journal.text)];
	const char *val[HS_NR] = { 0 }, *dir = NULL;
	char *cur = text, *key, *a, *b;
	long pid = 0;
	int n = recover_undo(), ret = 0;
	ssize_t len;

	if (n < 0)
		return n;
	len = pm_host_journal_read(PM_JOURNAL, text, sizeof(text));
	if (len == -ENOENT)
		return n;
	if (len < 0)
		return (int)len;
	while (!next_line(&cur, &key, &a, &b)) {
		if (!strcmp(key, "pid")) {
			pid = strtol(a, NULL, 10);
		} else if (!strcmp(key, "tmpdir")) {
			dir = a;
		} else if (!strcmp(key, "knob") && b) {
			/* only the knobs this file knows: never any path */
			for (int s = 0; s < HS_NR; s++)
				if (!strcmp(a, sys_path[s]))
					val[s] = b;
		}
	}
	for (int s = 0; s < HS_NR; s++) {
		int err;

		if (!val[s])
			continue;
		err = write_str(sys_path[s], val[s], strlen(val[s]));
		if (err == -ENOENT)
			continue;	/* gone with the feature: nothing to put back */
		if (err) {
			fprintf(stderr, "pinmm host: cannot restore %s to %s (left by the killed "
				"run %ld): %s\n", sys_path[s], val[s], pid, strerror(-err));
			ret = err;
			continue;
		}
		fprintf(stderr, "pinmm host: restored %s to %s (left by the killed run %ld)\n",
			sys_path[s], val[s], pid);
		n++;
	}
	/* BASE/pinmm-host.X only: what this file makes */
	if (dir && dir[0] == '/' && strstr(dir, "/pinmm-host.") &&
	    !strchr(strstr(dir, "/pinmm-host.") + 1, '/')) {
		int err = pm_host_rmtree(dir);

		if (err)
			fprintf(stderr, "pinmm host: cannot remove %s (left by the killed run %ld): %s\n",
				dir, pid, strerror(-err));
		else
			fprintf(stderr, "pinmm host: removed %s (left by the killed run %ld)\n",
				dir, pid);
	}
	if (ret)
		return ret;
	ret = pm_host_journal_remove(PM_JOURNAL);
	return ret ? ret : n;
}

int pm_host_guard_mktmp(const char *base, char *dir, size_t len)
{
	sigset_t old;
	int ret = -EEXIST;

	guard_block(&old);
	for (int i = 0; i < 16 && ret == -EEXIST; i++) {
		unsigned long long r = 0;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r ^= (unsigned long long)getpid() << 20 ^ (unsigned long long)i;
		if ((size_t)snprintf(dir, len, "%s/pinmm-host.%012llx", base,
				     r & 0xffffffffffffull) >= len ||
		    strlen(dir) >= sizeof(tmp_dir)) {
			ret = -ENAMETOOLONG;
			break;
		}
		/* journalled first: a kill between the two leaves a name the
		 * next run finds missing, never a dir nobody knows of */
		snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir);
		ret = journal_sync();
		if (!ret && mkdir(dir, 0700))
			ret = -errno;
		if (ret)
			tmp_dir[0] = 0;
	}
	if (ret)
		journal_sync();
	guard_unblock(&old);
	return ret;
}

void pm_host_guard_pgid(pid_t pgid)
{
	guard_pgid = pgid;
}

static void cleanup(bool reap)
{
	pid_t g = guard_pgid;

	restore_knobs();
	if (g > 0) {
		kill(-g, SIGKILL);
		guard_pgid = 0;
		/* no worker may still create a file in the temp dir: the
		 * main worker, and every orphan (we are their subreaper) */
		while (reap && (waitpid(-1, NULL, 0) > 0 || errno == EINTR))
			;
	}
	/* newest first, once the workers are gone (their swap with them);
	 * what fails stays in the journal for the next run */
	for (int i = nr_undo; i-- > 0;)
		undo_one(i);
	if (tmp_dir[0]) {
		pm_host_rmtree(tmp_dir);
		tmp_dir[0] = 0;
	}
	if (journal_ours)
		journal_sync();
}

void pm_host_cleanup(void)
{
	sigset_t old;

	guard_block(&old);
	cleanup(false);
	guard_unblock(&old);
}

static void on_signal(int sig)
{
	int saved = errno;

	if (getpid() != guard_owner) {
		/* a worker or another child: the state is the controller's */
		signal(sig, SIG_DFL);
		raise(sig);
		errno = saved;
		return;
	}
	if (sig == SIGALRM) {
		/* the timeout: kill the workers; the controller's next reply
		 * fails, it reports the timeout and cleans up as usual */
		pm_host_timed_out = 1;
		if (guard_pgid > 0)
			kill(-guard_pgid, SIGKILL);
		errno = saved;
		return;
	}
	cleanup(true);
	signal(sig, SIG_DFL);
	raise(sig);	/* delivered on return: the exit status tells the signal */
	errno = saved;
}

static void at_exit(void)
{
	if (getpid() == guard_owner)
		pm_host_cleanup();
}

void pm_host_guard_install(void)
{
	static int done;
	struct sigaction sa = { .sa_handler = on_signal };

	guard_owner = getpid();
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NR_GUARD_SIGS; i++)
		sigaddset(&sa.sa_mask, guard_sigs[i]);
	for (int i = 0; i < NR_GUARD_SIGS; i++)
		sigaction(guard_sigs[i], &sa, NULL);
	if (!done) {
		atexit(at_exit);
		done = 1;
	}
}

void pm_host_guard_child(void)
{
	for (int i = 0; i < NR_GUARD_SIGS; i++)
		signal(guard_sigs[i], SIG_DFL);
	/* a lock survives while any process holds its fd: not a worker */
	if (lock_fd >= 0)
		close(lock_fd);
	if (legacy_fd >= 0)
		close(legacy_fd);
	lock_fd = legacy_fd = -1;
}

/* flock(op), saying once that it waits and for whom; -ETIMEDOUT when the
 * run's alarm went off meanwhile */
static int wait_lock(int fd, int op, const char *whom)
{
	if (!flock(fd, op | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK)
		return -errno;
	fprintf(stderr, "pinmm host: waiting for another run (%s) to finish\n", whom);
	while (flock(fd, op))
		if (errno != EINTR || pm_host_timed_out)
			return pm_host_timed_out ? -ETIMEDOUT : -errno;
	return 0;
}

int pm_host_lock(int *recovered)
{
	char pid[24] = "", whom[48];
	struct stat st;
	ssize_t n;
	int fd = pm_host_journal_open("host.lock", O_RDWR | O_CREAT), ret;

	if (fd < 0)
		return fd;
	n = pread(fd, pid, sizeof(pid) - 1, 0);
	pid[n > 0 ? n : 0] = 0;
	pid[strcspn(pid, "\n")] = 0;
	snprintf(whom, sizeof(whom), pid[0] ? "pid %s" : "pid unknown", pid);
	ret = wait_lock(fd, LOCK_EX, whom);
	if (ret) {
		close(fd);
		return ret;
	}
	/* the pid: for the message of a run that waits */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (!ftruncate(fd, 0))
		n = pwrite(fd, pid, (size_t)n, 0);
	/* runs of pinmm before the journal lock /tmp/pinmm-host.lock
	 * exclusively: while that file is there (root's, a regular file; never
	 * made nor written here), exclude them too. Shared: the lock above
	 * orders the runs of this pinmm, and a test may hold it shared to keep
	 * older runs off the machine while it looks at the settings. */
	legacy_fd = open("/tmp/pinmm-host.lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (legacy_fd >= 0 && (fstat(legacy_fd, &st) || !S_ISREG(st.st_mode) || st.st_uid)) {
		close(legacy_fd);
		legacy_fd = -1;
	}
	if (legacy_fd >= 0 && (ret = wait_lock(legacy_fd, LOCK_SH, "an older pinmm, /tmp/pinmm-host.lock"))) {
		pm_host_unlock(fd);
		return ret;
	}
	lock_fd = fd;
	/* before this run saves anything as an original */
	ret = recover();
	if (ret < 0) {
		pm_host_unlock(fd);
		return ret;
	}
	if (recovered)
		*recovered = ret;
	return fd;
}

void pm_host_unlock(int fd)
{
	if (legacy_fd >= 0)
		close(legacy_fd);
	if (fd >= 0)
		close(fd);
	legacy_fd = -1;
	if (fd == lock_fd)
		lock_fd = -1;
}
