/* SPDX-License-Identifier: MIT */
/*
 * Executions that do not pay for set-up (explore build only).
 *
 * The scenario's set-up (a fresh engine, `main` up to the first `run`) is
 * run once, in the explorer's process, and kept: the template. Each
 * execution is a fork() of the explorer: the child starts from the
 * template's state as it is (copy-on-write), runs the threads under a
 * scheduler of its own (fork copies only the calling thread, so its
 * workers are new), judges the result with check(), writes the decision
 * log, the steps' accesses, the verdict and the end state into a shared
 * mapping, and _exit()s without tearing anything down. The parent reads
 * the log back and goes on with its search as if the execution had run at
 * home.
 *
 * The strategy chooses in the child, on its copy of the search's state;
 * the parent then asks its own strategy the same questions in the same
 * order (choose() depends only on the decisions before), so what the
 * strategy learnt while the execution ran (DPOR's nodes and sleep sets,
 * PCT's priorities) is the parent's too, and the answers are checked to
 * agree.
 *
 * RCU: from start to stop the call_rcu worker is parked
 * (pm_rcu_fork_quiesce()), so no fork catches it holding a lock the child
 * needs; an ASan search hung in CI on exactly that before. Callbacks the
 * parent's home executions queue meanwhile (traces are replayed at home)
 * run after stop; the child's never run, they only free memory, which goes
 * with the child. Nothing in the engine waits for a grace period.
 */
#ifdef PINMM_EXPLORE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/compiler.h"
#include "../base/rcu.h"
#include "fork_server.h"
#include "search.h"

/* what a child hands back; the decisions and accesses follow it */
struct fs_result {
	int err;
	bool aborted, failed, has_outcome;
	uint64_t outcome;
	size_t nr_dec, nr_acc;
	char why[128];
	char msg[256];
};

/* the shared mapping: reserved once, touched only as far as a log goes */
#define FS_SHM_BYTES (256ul << 20)

struct pm_fork_server {
	const struct pinmm_explore_ops *ops;
	void *state;		/* the template: set-up done, never run */
	struct fs_result *shm;
};

bool pm_fork_server_supported(void)
{
#ifdef PM_TSAN
	return false;
#else
	return true;
#endif
}

int pm_fork_server_start(struct pm_fork_server **out, const struct pinmm_explore_ops *ops,
			 void *ctx)
{
	struct pm_fork_server *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	fs->ops = ops;
	fs->shm = mmap(NULL, FS_SHM_BYTES, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fs->shm == MAP_FAILED) {
		free(fs);
		return -ENOMEM;
	}
	fs->state = ops->setup(ctx);
	if (!fs->state) {
		munmap(fs->shm, FS_SHM_BYTES);
		free(fs);
		return -ENOMEM;
	}
	pm_rcu_fork_quiesce();
	*out = fs;
	return 0;
}

void pm_fork_server_stop(struct pm_fork_server *fs)
{
	if (!fs)
		return;
	pm_rcu_fork_resume();
	fs->ops->teardown(fs->state);
	munmap(fs->shm, FS_SHM_BYTES);
	free(fs);
}

static struct pm_decision *shm_dec(struct pm_fork_server *fs)
{
	return (struct pm_decision *)(fs->shm + 1);
}

static struct pm_access *shm_acc(struct pm_fork_server *fs, size_t nr_dec)
{
	return (struct pm_access *)(shm_dec(fs) + nr_dec);
}

/* The child: run, judge, report, leave. Never returns. */
static void child(struct pm_fork_server *fs, struct pm_sched_run *run, bool want_outcome)
{
	struct fs_result *r = fs->shm;
	struct pm_sched *s = pm_sched_new(fs->ops->nr_threads);
	int err = s ? 0 : -ENOMEM;

	memset(r, 0, sizeof(*r));
	run->ops = fs->ops;
	run->state = fs->state;
	if (!err)
		err = pm_sched_execute(s, run);
	if (!err)
		pm_search_judge(run, want_outcome, &r->outcome, &r->has_outcome, &r->failed,
				r->msg, sizeof(r->msg));
	r->aborted = run->aborted;
	memcpy(r->why, run->why, sizeof(r->why));
	if (!err && sizeof(*r) + run->nr_dec * sizeof(*run->dec) +
			    run->nr_acc * sizeof(*run->acc) > FS_SHM_BYTES)
		err = -E2BIG;
	if (!err) {
		memcpy(shm_dec(fs), run->dec, run->nr_dec * sizeof(*run->dec));
		memcpy(shm_acc(fs, run->nr_dec), run->acc, run->nr_acc * sizeof(*run->acc));
		r->nr_dec = run->nr_dec;
		r->nr_acc = run->nr_acc;
	}
	r->err = err;
	/* no teardown, no atexit handlers, no stdio flush: the process is
	 * a copy, and everything it holds goes with it */
	_exit(0);
}

/* The parent's strategy learns what the child's did: the same questions,
 * in the same order, must get the same answers. */
static int replay_choices(struct pm_sched_run *run)
{
	struct pm_strategy *st = run->strategy;

	if (!st || !st->choose)
		return 0;
	st->run = run;
	for (size_t i = run->nr_prefix; i < run->nr_dec; i++) {
		const struct pm_decision *d = &run->dec[i];
		int cur = d->yielded || d->current == 0xff ? -1 : d->current;

		if (st->choose(st, (unsigned)i, cur, d->enabled) != d->chosen)
			return -EPROTO;
	}
	return 0;
}

int pm_fork_server_execute(struct pm_fork_server *fs, struct pm_sched_run *run,
			   bool want_outcome, uint64_t *outcome, bool *has_outcome,
			   bool *failed, char *msg, size_t len)
{
	struct fs_result *r = fs->shm;
	int status;
	pid_t pid;

	r->err = -ECHILD;	/* unless the child says otherwise */
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child(fs, run, want_outcome);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status)) {
		/* the engine crashed: a failure, which the in-process replay
		 * of its schedule will show (the trace is made at home) */
		*failed = true;
		snprintf(msg, len, "the execution died of signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return 0;
	}
	if (r->err)
		return r->err;
	run->dec = malloc((r->nr_dec ? r->nr_dec : 1) * sizeof(*run->dec));
	run->acc = malloc((r->nr_acc ? r->nr_acc : 1) * sizeof(*run->acc));
	if (!run->dec || !run->acc)
		return -ENOMEM;
	memcpy(run->dec, shm_dec(fs), r->nr_dec * sizeof(*run->dec));
	memcpy(run->acc, shm_acc(fs, r->nr_dec), r->nr_acc * sizeof(*run->acc));
	run->nr_dec = r->nr_dec;
	run->nr_acc = r->nr_acc;
	run->aborted = r->aborted;
	memcpy(run->why, r->why, sizeof(run->why));
	*has_outcome = r->has_outcome;
	*outcome = r->outcome;
	*failed = r->failed;
	snprintf(msg, len, "%s", r->msg);
	return replay_choices(run);
}
#else
typedef int pm_fork_server_unused_t;
#endif
