/* SPDX-License-Identifier: MIT */
/*
 * fork() while liburcu's call_rcu worker is busy, staged.
 *
 * The explorer's fork server forks a multithreaded process for every
 * execution. fork copies only the calling thread, so whatever lock another
 * thread holds at that moment stays taken in the child forever. The
 * call_rcu worker runs callbacks (which free memory: under ASan that takes
 * the sanitizer allocator's locks, which have no fork handlers) and grace
 * periods (liburcu's registry lock, which every new reader thread takes to
 * register): an ASan search hung in CI when a fork caught it there.
 *
 * Here a callback holds a lock of the test's own while the main thread
 * forks; pm_rcu_fork_quiesce() must wait for the callback and park the
 * worker first, so the child finds the lock free, and the child must be
 * able to start a reader thread and queue callbacks of its own.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/rcu.h"

static pthread_mutex_t held_by_callback = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool in_callback, release_callback, callback_done;
static struct rcu_head staged_head, child_head;

static void staged_callback(struct rcu_head *head)
{
	pm_rcu_callback_begin(head);
	pthread_mutex_lock(&held_by_callback);
	atomic_store(&in_callback, true);
	while (!atomic_load(&release_callback))
		usleep(1000);
	pthread_mutex_unlock(&held_by_callback);
	atomic_store(&callback_done, true);
}

static void *release_later(void *unused)
{
	(void)unused;
	usleep(50 * 1000);	/* long enough for the main thread to reach fork() */
	atomic_store(&release_callback, true);
	return NULL;
}

static void child_callback(struct rcu_head *head)
{
	pm_rcu_callback_begin(head);
}

/* a new thread in the child: registers as a reader, queues a callback */
static void *child_reader(void *unused)
{
	(void)unused;
	pm_rcu_read_lock();
	pm_rcu_read_unlock();
	pm_call_rcu(&child_head, child_callback);
	return NULL;
}

static int child_main(void)
{
	pthread_t t;

	alarm(10);	/* a hang is a failure (SIGALRM), not a stuck test */
	if (pthread_mutex_trylock(&held_by_callback) != 0)
		return 1;	/* forked while the worker held it */
	if (pthread_create(&t, NULL, child_reader, NULL) || pthread_join(t, NULL))
		return 2;
	return 0;
}

static void fork_waits_for_a_running_callback(void **state)
{
	pthread_t releaser;
	int status;
	pid_t pid;

	(void)state;
	pm_call_rcu(&staged_head, staged_callback);
	for (int i = 0; i < 10000 && !atomic_load(&in_callback); i++)
		usleep(1000);
	assert_true(atomic_load(&in_callback));

	assert_int_equal(pthread_create(&releaser, NULL, release_later, NULL), 0);
	pm_rcu_fork_quiesce();
	/* the callback finished before the worker parked */
	assert_true(atomic_load(&callback_done));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_main());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pm_rcu_fork_resume();
	assert_int_equal(pthread_join(releaser, NULL), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* after resume the worker runs callbacks again */
static int resumed_ran;

static void resumed_callback(struct rcu_head *head)
{
	pm_rcu_callback_begin(head);
	__atomic_store_n(&resumed_ran, 1, __ATOMIC_RELEASE);
}

static void callbacks_run_after_resume(void **state)
{
	static struct rcu_head head;

	(void)state;
	pm_rcu_fork_quiesce();
	pm_call_rcu(&head, resumed_callback);
	pm_rcu_fork_resume();
	for (int i = 0; i < 10000 && !__atomic_load_n(&resumed_ran, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	assert_int_equal(__atomic_load_n(&resumed_ran, __ATOMIC_ACQUIRE), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fork_waits_for_a_running_callback),
		cmocka_unit_test(callbacks_run_after_resume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
