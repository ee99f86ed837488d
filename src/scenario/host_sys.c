/* SPDX-License-Identifier: MIT */
/*
 * host_sys.c - what the host backend changes on the machine, and how it
 * is put back whatever happens: KSM's sysfs knobs (saved on first change,
 * restored at the end, at exit, and from the SIGINT/SIGTERM/SIGHUP
 * handlers), the worker process group (killed), the temp dir (removed).
 * Restoring uses only async-signal-safe calls (open, write, close, kill,
 * unlink, rmdir).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
};

static struct {
	char val[64];
	size_t len;
	volatile sig_atomic_t saved;
} sys_saved[HS_NR];

#define MAX_TMP_FILES 64
static char tmp_dir[256];
static char tmp_files[MAX_TMP_FILES][H_PATHLEN + 8];
static volatile sig_atomic_t nr_tmp_files;
static volatile pid_t guard_pgid;
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

int pm_host_sys_set(enum hsys s, const char *val)
{
	if (!sys_saved[s].saved) {
		char b[64];
		int ret = pm_host_sys_read(sys_path[s], b, sizeof(b));

		if (ret)
			return ret;
		char *o = strchr(b, '['), *e = o ? strchr(o, ']') : NULL;

		if (o && e) {	/* "always [madvise] never": the chosen one */
			*e = 0;
			memmove(b, o + 1, strlen(o + 1) + 1);
		}
		snprintf(sys_saved[s].val, sizeof(sys_saved[s].val), "%s", b);
		sys_saved[s].len = strlen(sys_saved[s].val);
		sys_saved[s].saved = 1;
	}
	return write_str(sys_path[s], val, strlen(val));
}

void pm_host_restore(void)
{
	/* run first: stop ksmd before its speed goes back */
	for (int s = 0; s < HS_NR; s++) {
		if (!sys_saved[s].saved)
			continue;
		write_str(sys_path[s], sys_saved[s].val, sys_saved[s].len);
		sys_saved[s].saved = 0;
	}
}

void pm_host_guard_pgid(pid_t pgid)
{
	guard_pgid = pgid;
}

void pm_host_guard_tmp(const char *dir)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir ? dir : "");
	nr_tmp_files = 0;
}

void pm_host_guard_tmp_file(const char *path)
{
	for (int i = 0; i < nr_tmp_files; i++)
		if (!strcmp(tmp_files[i], path))
			return;
	if (nr_tmp_files < MAX_TMP_FILES) {
		snprintf(tmp_files[nr_tmp_files], sizeof(tmp_files[0]), "%s", path);
		nr_tmp_files++;
	}
}

void pm_host_cleanup(void)
{
	pid_t g = guard_pgid;

	pm_host_restore();
	if (g > 0) {
		kill(-g, SIGKILL);
		guard_pgid = 0;
	}
	for (int i = 0; i < nr_tmp_files; i++)
		unlink(tmp_files[i]);
	nr_tmp_files = 0;
	if (tmp_dir[0]) {
		rmdir(tmp_dir);
		tmp_dir[0] = 0;
	}
}

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGALRM) {
		/* the timeout: kill the workers; the controller's next reply
		 * fails, it reports the timeout and cleans up as usual */
		pm_host_timed_out = 1;
		if (guard_pgid > 0)
			kill(-guard_pgid, SIGKILL);
		errno = saved;
		return;
	}
	pm_host_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

static void at_exit(void)
{
	pm_host_cleanup();
}

void pm_host_guard_install(void)
{
	static int done;
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	if (!done) {
		atexit(at_exit);
		done = 1;
	}
}

int pm_host_lock(void)
{
	int fd = open("/tmp/pinmm-host.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) && errno == EINTR && !pm_host_timed_out)
		;
	return fd;
}

void pm_host_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
