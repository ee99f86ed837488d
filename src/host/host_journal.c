/* SPDX-License-Identifier: MIT */
/*
 * host_journal.c - the crash-safe record of what a host run changed on the
 * machine. /run/pinmm/journal lists, as text lines,
 *
 *	pinmm-host-journal 1
 *	pid 1234
 *	knob /sys/kernel/mm/ksm/run 0		(the original, first change only)
 *	tmpdir /var/tmp/pinmm-host.0123456789ab
 *
 * and /run/pinmm/journal.undo, in the same form, what a run set up besides
 * (host_sys.c's undo kinds):
 *
 *	zram 1 added
 *	swap /dev/zram1
 *	uprobe pinmm/p0
 *
 * A file of its own, which a pinmm that knows no such lines never reads nor
 * removes: its restore of a killed run's journal leaves it to the next run
 * that does. Each is written before the change it covers, atomically (journal.tmp,
 * fsync, rename, fsync of the directory), and removed once everything is
 * put back. A run killed by SIGKILL, the OOM killer or a crash leaves it:
 * the next run, or `pinmm host --restore`, puts back what it lists under
 * the lock before it saves originals of its own (host_sys.c).
 *
 * /run/pinmm is root's (mode 0700), every file in it 0600, opened relative
 * to the directory with O_NOFOLLOW. Writing and removing use only
 * async-signal-safe calls: the signal handlers restore through here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"

#define RUN_DIR "/run/pinmm"

static int dir_fd = -1;

/* fd is ours alone: a regular file (or dir) of this user, no group or
 * other access; 0, or -EPERM */
static int private_to_us(int fd, mode_t type)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if ((st.st_mode & S_IFMT) != type || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

int pm_host_journal_dir(void)
{
	int fd, ret;

	if (dir_fd >= 0)
		return dir_fd;
	if (mkdir(RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	fd = open(RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = private_to_us(fd, S_IFDIR);
	if (ret) {
		close(fd);
		return ret;
	}
	dir_fd = fd;
	return fd;
}

int pm_host_journal_open(const char *name, int flags)
{
	int dfd = pm_host_journal_dir(), fd;

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (private_to_us(fd, S_IFREG)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* ------------------------------------------------------------ text --- */

static void jcat(struct pm_journal *j, const char *s)
{
	size_t n = strlen(s);

	if (j->len + n >= sizeof(j->text)) {
		j->overflow = true;
		return;
	}
	memcpy(j->text + j->len, s, n);
	j->len += n;
	j->text[j->len] = 0;
}

void pm_host_journal_start(struct pm_journal *j)
{
	char num[24], *p = num + sizeof(num);
	unsigned long v = (unsigned long)getpid();

	*--p = 0;
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	j->len = 0;
	j->overflow = false;
	j->entries = 0;
	jcat(j, "pinmm-host-journal 1\npid ");
	jcat(j, p);
	jcat(j, "\n");
}

void pm_host_journal_add(struct pm_journal *j, const char *key, const char *a, const char *b)
{
	jcat(j, key);
	jcat(j, " ");
	jcat(j, a);
	if (b) {
		jcat(j, " ");
		jcat(j, b);
	}
	jcat(j, "\n");
	j->entries++;
}

/* ------------------------------------------------------------ file --- */

/* NAME.tmp: written, then renamed to NAME */
static void tmp_name(char *dst, size_t len, const char *name)
{
	pm_host_cat(dst, len, name, ".tmp", NULL);
}

int pm_host_journal_commit(const struct pm_journal *j, const char *name)
{
	char tmp[64];
	int fd, ret = 0;

	if (!j->entries)
		return pm_host_journal_remove(name);
	if (j->overflow)
		return -ENOSPC;
	tmp_name(tmp, sizeof(tmp), name);
	fd = pm_host_journal_open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0)
		return fd;
	for (size_t off = 0; off < j->len && !ret;) {
		ssize_t n = write(fd, j->text + off, j->len - off);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EINTR)
			ret = -errno;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && renameat(dir_fd, tmp, dir_fd, name))
		ret = -errno;
	if (ret)
		unlinkat(dir_fd, tmp, 0);
	else
		fsync(dir_fd);	/* the rename itself survives a crash */
	return ret;
}

int pm_host_journal_remove(const char *name)
{
	char tmp[64];

	if (dir_fd < 0)
		return 0;
	tmp_name(tmp, sizeof(tmp), name);
	unlinkat(dir_fd, tmp, 0);
	if (unlinkat(dir_fd, name, 0) && errno != ENOENT)
		return -errno;
	fsync(dir_fd);
	return 0;
}

ssize_t pm_host_journal_read(const char *name, char *buf, size_t len)
{
	int fd = pm_host_journal_open(name, O_RDONLY);
	ssize_t n, got = 0;
	char tmp[64];

	if (fd < 0)
		return fd;
	/* a NAME.tmp was never renamed: the change it was written for was
	 * not made (the journal comes first) */
	tmp_name(tmp, sizeof(tmp), name);
	unlinkat(dir_fd, tmp, 0);
	while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			got = -errno;
			break;
		}
		got += n;
	}
	close(fd);
	if (got >= 0)
		buf[got] = 0;
	return got;
}

/* ---------------------------------------------------- the temp dir --- */

struct dent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

int pm_host_rmtree(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char buf[2048] __attribute__((aligned(8)));
	struct stat st;
	bool removed = true;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* only a directory this user made: never another user's files */
	if (fstat(fd, &st) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	/* flat (the run's files); passes again while entries go, as
	 * removing while reading may hide some */
	for (int pass = 0; pass < 8 && removed; pass++) {
		long n;

		removed = false;
		lseek(fd, 0, SEEK_SET);
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (long off = 0; off < n;) {
				struct dent64 *d = (struct dent64 *)(buf + off);

				off += d->reclen;
				if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
					continue;
				if (!unlinkat(fd, d->name, 0) ||
				    !unlinkat(fd, d->name, AT_REMOVEDIR))
					removed = true;
			}
		}
	}
	close(fd);
	return rmdir(dir) && errno != ENOENT ? -errno : 0;
}
