/* SPDX-License-Identifier: MIT */
/*
 * host_uprobe.c - `uprobe-register FILE OFF` on the kernel: a probe
 * "p:pinmm/pN PATH:0xOFF" written to tracefs's uprobe_events and enabled
 * (that is when the kernel writes the breakpoint into the text page of
 * every private mapping); unregistering disables and deletes it.
 *
 * tracefs is mounted nowhere: fsopen() + fsmount() give a mount that
 * belongs to no namespace, so the run changes no one's mount table and a
 * killed run leaves no mount behind (unshare(CLONE_NEWNS) would move the
 * whole calling process, `pinmm check` included, into a namespace of its
 * own for the rest of its life, and is refused once it has threads). The
 * probe itself is global while
 * it exists: journalled before it is written ("uprobe pinmm/pN",
 * host_sys.c) and removed at cleanup, from the signal handlers, or by the
 * next run after a kill. A memfd's /proc/PID/fd/N path is resolved by the
 * kernel when the probe is defined: it serves as PATH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mount.h>

#include "host.h"

#define GROUP "pinmm"
#define MAX_PROBES 16
#define ENOTSUPP_KERNEL 524	/* the kernel's ENOTSUPP: an instruction it will not probe */

static int tracefs = -1;

/* ------------------------------------------- async-signal-safe part --- */

/* the detached tracefs mount (made on first use): its fd, or -errno */
static int tracefs_fd(void)
{
	int fs, m, err;

	if (tracefs >= 0)
		return tracefs;
	fs = (int)syscall(SYS_fsopen, "tracefs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		err = -errno;
		close(fs);
		return err;
	}
	m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	err = -errno;
	close(fs);
	if (m < 0)
		return err;
	tracefs = m;
	return m;
}

/* append text to a tracefs file (never O_TRUNC: that deletes every probe) */
static int tracefs_write(const char *file, const char *text)
{
	int t = tracefs_fd(), fd, ret = 0;
	ssize_t len = (ssize_t)strlen(text);

	if (t < 0)
		return t;
	fd = openat(t, file, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* "pinmm/pN" and nothing else: a journal line names no other probe */
static bool probe_name_ok(const char *name)
{
	const char *n = name + sizeof(GROUP "/p") - 1;
	size_t d = strspn(n, "0123456789");

	return !strncmp(name, GROUP "/p", sizeof(GROUP "/p") - 1) && d >= 1 && d <= 6 && !n[d];
}

/* disable and delete the probe: done when it is not (or no longer) there */
static int uprobe_undo(const char *name, const char *unused)
{
	char buf[64];
	int ret;

	(void)unused;
	if (!probe_name_ok(name))
		return -EINVAL;
	pm_host_cat(buf, sizeof(buf), "events/", name, "/enable");
	ret = tracefs_write(buf, "0");
	if (ret == -ENOENT)
		return 0;
	pm_host_cat(buf, sizeof(buf), "-:", name, "\n");
	ret = tracefs_write("uprobe_events", buf);
	return ret == -ENOENT ? 0 : ret;
}

const struct pm_undo pm_undo_uprobe = { "uprobe", "uprobe", uprobe_undo };

/* ---------------------------------------------------------- probes --- */

static struct {
	char path[H_PATHLEN];
	uint64_t off;
	char name[32];
} probe[MAX_PROBES];
static unsigned next_id;

/* Does probe i still exist? A run's cleanup deletes them (the slot is
 * then free), and the next run may reuse a path. */
static bool probe_live(int i)
{
	char dir[64];

	if (!probe[i].name[0])
		return false;
	snprintf(dir, sizeof(dir), "events/%s", probe[i].name);
	if (tracefs >= 0 && !faccessat(tracefs, dir, F_OK, 0))
		return true;
	probe[i].name[0] = 0;
	return false;
}

/* the live probe this process made at path:off, or NULL */
static const char *probe_at(const char *path, uint64_t off)
{
	for (int i = 0; i < MAX_PROBES; i++)
		if (probe_live(i) && probe[i].off == off && !strcmp(probe[i].path, path))
			return probe[i].name;
	return NULL;
}

int pm_host_uprobe_register(const char *path, uint64_t off, char *why, size_t len)
{
	char name[32], def[H_PATHLEN + 64], en[64];
	int slot = -1, ret;

	if (strpbrk(path, " \t\n:") || strlen(path) >= H_PATHLEN) {
		snprintf(why, len, "the file's path %s cannot be written in uprobe_events", path);
		return -EOPNOTSUPP;
	}
	if ((ret = tracefs_fd()) < 0) {
		snprintf(why, len, "no tracefs to define uprobes in: %s", strerror(-ret));
		return -EOPNOTSUPP;
	}
	if (probe_at(path, off)) {
		snprintf(why, len, "a second probe at one place: the kernel counts its users, "
			 "the engine's one breakpoint does not");
		return -EOPNOTSUPP;
	}
	for (int i = 0; i < MAX_PROBES && slot < 0; i++)
		if (!probe_live(i))
			slot = i;
	if (slot < 0) {
		snprintf(why, len, "more than %d uprobes at once", MAX_PROBES);
		return -EOPNOTSUPP;
	}
	snprintf(name, sizeof(name), GROUP "/p%u", next_id++ % 1000000);
	if ((ret = pm_host_guard_add(&pm_undo_uprobe, name, NULL))) {
		snprintf(why, len, "cannot journal the uprobe: %s", strerror(-ret));
		return -EOPNOTSUPP;
	}
	snprintf(def, sizeof(def), "p:%s %s:0x%llx\n", name, path, (unsigned long long)off);
	if ((ret = tracefs_write("uprobe_events", def))) {
		pm_host_guard_undo(&pm_undo_uprobe, name);
		snprintf(why, len, "uprobe_events refused \"p:%s %s:0x%llx\": %s", name, path,
			 (unsigned long long)off, strerror(-ret));
		return -EOPNOTSUPP;
	}
	/* enabling registers it: the breakpoints go in now, or the error */
	snprintf(en, sizeof(en), "events/%s/enable", name);
	ret = tracefs_write(en, "1");
	if (ret) {
		pm_host_guard_undo(&pm_undo_uprobe, name);
		if (ret == -EINVAL || ret == -ENOTSUPP_KERNEL) {
			snprintf(why, len, "the kernel will not probe the instruction at 0x%llx "
				 "(%s)", (unsigned long long)off, strerror(-ret));
			return -EOPNOTSUPP;
		}
		return ret;
	}
	snprintf(probe[slot].path, sizeof(probe[slot].path), "%s", path);
	probe[slot].off = off;
	snprintf(probe[slot].name, sizeof(probe[slot].name), "%s", name);
	return 0;
}

int pm_host_uprobe_unregister(const char *path, uint64_t off, char *why, size_t len)
{
	const char *name = probe_at(path, off);

	if (!name) {
		snprintf(why, len, "no probe of this run at that place: the kernel has none to "
			 "remove (the engine writes the original byte back all the same)");
		return -EOPNOTSUPP;
	}
	return pm_host_guard_undo(&pm_undo_uprobe, name);
}
