/* SPDX-License-Identifier: MIT */
/*
 * host_swap.c - a swap device for the run of a scenario that says `swap
 * SIZE`: a zram device of SIZE (plus mkswap's header page), made swap by
 * util-linux's mkswap and switched on at the highest priority, so that
 * MADV_PAGEOUT and `reclaim` put anonymous pages there and pagemap shows
 * swap entries (bit 62; zram keeps a page of zeros specially, but its PTE
 * is a swap entry all the same).
 *
 * The device is hot-added (hot_remove at the end) when zram-control is
 * there, else a free existing one is used (reset at the end). Each step is
 * journalled before it is taken (host_sys.c: "zram N added|free", "swap
 * /dev/zramN"), so what a killed run switched on is switched off and reset
 * by the next run or `pinmm host --restore`. The undo functions run in
 * signal handlers: system calls and string copies only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

#define ZRAM_CONTROL "/sys/class/zram-control"
#define PG 4096ull
/* mkswap refuses less than 10 pages (its header one of them) */
#define MKSWAP_MIN (10 * PG)

extern char **environ;

/* ------------------------------------------- async-signal-safe part --- */

/* a zram device number as the journal has it: 1-4 digits */
static bool zram_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n <= 4 && strspn(id, "0123456789") == n;
}

/* swap off /dev/zramN: done when it is not (or no longer) a swap device */
static int swap_undo(const char *dev, const char *unused)
{
	(void)unused;
	if (strncmp(dev, "/dev/zram", 9) || !zram_id_ok(dev + 9))
		return -EINVAL;
	if (swapoff(dev) && errno != EINVAL && errno != ENOENT)
		return -errno;
	return 0;
}

/* reset zram N, and hot-remove it when the run added it */
static int zram_undo(const char *id, const char *how)
{
	char path[64];
	int ret;

	if (!zram_id_ok(id) || !how || (strcmp(how, "added") && strcmp(how, "free")))
		return -EINVAL;
	pm_host_cat(path, sizeof(path), "/sys/block/zram", id, "/reset");
	/* a killed run's mkswap may still hold it open for a moment */
	for (int i = 0; (ret = pm_host_sys_write(path, "1")) == -EBUSY && i < 100; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	if (ret == -ENOENT)
		return 0;	/* gone: nothing to put back */
	if (ret)
		return ret;
	if (!strcmp(how, "added")) {
		ret = pm_host_sys_write(ZRAM_CONTROL "/hot_remove", id);
		if (ret == -ENODEV || ret == -ENOENT)
			ret = 0;
	}
	return ret;
}

const struct pm_undo pm_undo_zram = { "zram", "zram device", zram_undo };
const struct pm_undo pm_undo_swap = { "swap", "swap device", swap_undo };

/* ---------------------------------------------------------- set-up --- */

static bool zram_exists(int id)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/block/zram%d", id);
	return access(path, F_OK) == 0;
}

/* a zram device nobody set up (initstate 0), or -1 */
static int zram_free_one(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found < 0 && (e = readdir(d))) {
		char path[300];

		if (strncmp(e->d_name, "zram", 4) || !zram_id_ok(e->d_name + 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/initstate", e->d_name);
		if (pm_host_sys_long(path) == 0)
			found = atoi(e->d_name + 4);
	}
	closedir(d);
	return found;
}

/* Hot-add a device. Its number is journalled before it exists: the
 * lowest one free, which is what zram hands out; another taker in between
 * is seen in the answer and the journal follows it. */
static int zram_hot_add(char *why, size_t len)
{
	char want[16], got[16];
	int id = 0, ret;

	while (id < 10000 && zram_exists(id))
		id++;
	snprintf(want, sizeof(want), "%d", id);
	if ((ret = pm_host_guard_add(&pm_undo_zram, want, "added"))) {
		snprintf(why, len, "cannot journal the zram device: %s", strerror(-ret));
		return ret;
	}
	ret = pm_host_sys_read(ZRAM_CONTROL "/hot_add", got, sizeof(got));
	if (ret || !zram_id_ok(got)) {
		pm_host_guard_undo(&pm_undo_zram, want);
		snprintf(why, len, "zram hot_add failed: %s", ret ? strerror(-ret) : got);
		return ret ? ret : -EIO;
	}
	if (strcmp(got, want)) {
		/* not ours to remove: drop it from the journal, add ours */
		pm_host_guard_add(&pm_undo_zram, got, "added");
		pm_host_guard_undo(&pm_undo_zram, want);
	}
	return atoi(got);
}

/* mkswap (util-linux) on dev, quietly: its exit status */
static int run_mkswap(const char *dev, char *why, size_t len)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	char prog[64] = "";
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, ret;

	for (unsigned i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !prog[0]; i++) {
		snprintf(prog, sizeof(prog), "%s/mkswap", dirs[i]);
		if (access(prog, X_OK))
			prog[0] = 0;
	}
	if (!prog[0]) {
		snprintf(why, len, "no mkswap (util-linux) in /usr/sbin, /sbin, /usr/bin or /bin");
		return -ENOENT;
	}
	char *argv[] = { prog, "-q", (char *)dev, NULL };

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ret = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		snprintf(why, len, "cannot run %s: %s", prog, strerror(ret));
		return -ret;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(why, len, "%s %s failed (status 0x%x)", prog, dev, st);
		return -EIO;
	}
	return 0;
}

int pm_host_swap_on(uint64_t size, char *dev, size_t devlen, char *why, size_t len)
{
	char id_s[16], num[32], path[64];
	int id, ret;

	if (access(ZRAM_CONTROL "/hot_add", W_OK) == 0) {
		id = zram_hot_add(why, len);
		if (id < 0)
			return id;
	} else {
		id = zram_free_one();
		if (id < 0) {
			snprintf(why, len, "no zram device to swap on (the kernel has no zram, or "
				 "every device is in use and there is no %s)", ZRAM_CONTROL);
			return -ENODEV;
		}
		snprintf(id_s, sizeof(id_s), "%d", id);
		if ((ret = pm_host_guard_add(&pm_undo_zram, id_s, "free"))) {
			snprintf(why, len, "cannot journal the zram device: %s", strerror(-ret));
			return ret;
		}
	}
	snprintf(id_s, sizeof(id_s), "%d", id);
	snprintf(dev, devlen, "/dev/zram%d", id);
	/* the header page on top of SIZE, never under mkswap's minimum */
	size += PG;
	snprintf(num, sizeof(num), "%llu",
		 (unsigned long long)(size < MKSWAP_MIN ? MKSWAP_MIN : size));
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", id);
	if ((ret = pm_host_sys_write(path, num))) {
		snprintf(why, len, "zram%d: setting disksize %s: %s", id, num, strerror(-ret));
		goto undo;
	}
	if ((ret = run_mkswap(dev, why, len)))
		goto undo;
	if ((ret = pm_host_guard_add(&pm_undo_swap, dev, NULL))) {
		snprintf(why, len, "cannot journal the swap device: %s", strerror(-ret));
		goto undo;
	}
	/* first in line: pages go here, not to the machine's own swap */
	if (swapon(dev, SWAP_FLAG_PREFER | (32767 & SWAP_FLAG_PRIO_MASK))) {
		ret = -errno;
		snprintf(why, len, "swapon %s: %s", dev, strerror(errno));
		pm_host_guard_undo(&pm_undo_swap, dev);
		goto undo;
	}
	return 0;
undo:
	pm_host_guard_undo(&pm_undo_zram, id_s);
	return ret;
}
