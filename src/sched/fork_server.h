/* SPDX-License-Identifier: MIT */
/*
 * Executions that start from a set-up done once (explore build only): a
 * template state and a fork() per execution (fork_server.c).
 */
#ifndef PM_SCHED_FORK_SERVER_H
#define PM_SCHED_FORK_SERVER_H

#include "sched.h"

struct pm_fork_server;

/* Not in a ThreadSanitizer build: it does not let the child of a
 * multithreaded process start threads. */
bool pm_fork_server_supported(void);

/* Run ops->setup(ctx) once: the template every execution starts from. */
int pm_fork_server_start(struct pm_fork_server **fs, const struct pinmm_explore_ops *ops,
			 void *ctx);
void pm_fork_server_stop(struct pm_fork_server *fs);
/* One execution of run (prefix, strategy, max_steps; no trace) in a child
 * forked from the template: run->dec and run->acc filled as at home, the
 * strategy told every choice; *failed and msg as check() says (or a crash
 * of the child); the end state when asked for. 0 or -errno. */
int pm_fork_server_execute(struct pm_fork_server *fs, struct pm_sched_run *run,
			   bool want_outcome, uint64_t *outcome, bool *has_outcome,
			   bool *failed, char *msg, size_t len);

#endif
