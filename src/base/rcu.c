/* SPDX-License-Identifier: MIT */
#include "rcu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

__thread bool pm_rcu_registered;
#ifdef PM_TSAN
char pm_rcu_tsan_gp;
#endif

static pthread_key_t rcu_key;
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *unused)
{
	(void)unused;
	if (pm_rcu_registered) {
		PM_URCU(unregister_thread)();
		pm_rcu_registered = false;
	}
}

static void rcu_key_init(void)
{
	pthread_key_create(&rcu_key, rcu_thread_exit);
}

void pm_rcu_register_slow(void)
{
	pthread_once(&rcu_once, rcu_key_init);
	PM_URCU(register_thread)();
	pm_rcu_registered = true;
	/* any non-NULL value makes the destructor run at thread exit */
	pthread_setspecific(rcu_key, (void *)1);
}

void pm_call_rcu(struct rcu_head *head, void (*fn)(struct rcu_head *))
{
	/* call_rcu needs a registered caller */
	if (!pm_rcu_registered)
		pm_rcu_register_slow();
	pm_tsan_release(head);
	PM_URCU(call_rcu)(head, fn);
}

void pm_rcu_fork_quiesce(void)
{
	/* the worker exists before the pause: a child that had to create one
	 * would wait for the creation lock the pause holds */
	(void)PM_URCU(get_default_call_rcu_data)();
	PM_URCU(call_rcu_before_fork)();
}

void pm_rcu_fork_resume(void)
{
	PM_URCU(call_rcu_after_fork_parent)();
}

struct pm_rcu_domain *pm_rcu_domain_new(void)
{
	struct pm_rcu_domain *d = malloc(sizeof(*d));

	if (d)
		atomic_store(&d->refs, 1);
	return d;
}

void pm_rcu_domain_get(struct pm_rcu_domain *d)
{
	atomic_fetch_add(&d->refs, 1);
}

void pm_rcu_domain_put(struct pm_rcu_domain *d)
{
	if (atomic_fetch_sub(&d->refs, 1) == 1)
		free(d);
}
