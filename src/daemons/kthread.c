/* SPDX-License-Identifier: MIT */
/*
 * The daemons as background threads (ksmd, khugepaged, kcompactd, kswapd):
 * each runs its deterministic pass every interval until stopped, for the
 * real-thread stress tests and the soak.
 */
#include <errno.h>
#include <time.h>

#include <pinmm/daemons.h>

#include "../engine.h"
#include "daemons.h"

static void run_pass(struct pinmm *eng, enum pinmm_daemon d)
{
	switch (d) {
	case PINMM_KSMD:
		pinmm_ksm_scan(eng, 1);
		break;
	case PINMM_KHUGEPAGED:
		pinmm_khugepaged_scan(eng, 1);
		break;
	case PINMM_KCOMPACTD:
		pinmm_compact(eng);
		break;
	case PINMM_KSWAPD:
		pinmm_reclaim(eng, 32);
		break;
	case PINMM_DAEMON_NR:
		break;
	}
}

static void *kthread_main(void *arg)
{
	struct pm_kthread *k = arg;

	while (!atomic_load(&k->stop)) {
		struct timespec ts = { .tv_sec = k->interval_us / 1000000,
				       .tv_nsec = (long)(k->interval_us % 1000000) * 1000 };

		run_pass(k->eng, (enum pinmm_daemon)k->which);
		atomic_fetch_add(&k->passes, 1);
		if (k->interval_us)
			nanosleep(&ts, NULL);
	}
	return NULL;
}

int pinmm_daemon_start(struct pinmm *eng, enum pinmm_daemon d, unsigned interval_us)
{
	struct pm_kthread *k;
	int err = 0;

	if (!eng || (unsigned)d >= PINMM_DAEMON_NR)
		return -EINVAL;
	k = &eng->kthreads[d];
	pm_mutex_lock(&eng->kthread_lock);
	if (k->running) {
		err = -EBUSY;
	} else {
		k->eng = eng;
		k->which = d;
		k->interval_us = interval_us;
		atomic_store(&k->stop, false);
		err = -pthread_create(&k->tid, NULL, kthread_main, k);
		k->running = !err;
	}
	pm_mutex_unlock(&eng->kthread_lock);
	return err;
}

int pinmm_daemon_stop(struct pinmm *eng, enum pinmm_daemon d)
{
	struct pm_kthread *k;
	int err = 0;

	if (!eng || (unsigned)d >= PINMM_DAEMON_NR)
		return -EINVAL;
	k = &eng->kthreads[d];
	pm_mutex_lock(&eng->kthread_lock);
	if (!k->running) {
		err = -ESRCH;
	} else {
		atomic_store(&k->stop, true);
		pthread_join(k->tid, NULL);
		k->running = false;
	}
	pm_mutex_unlock(&eng->kthread_lock);
	return err;
}

void pm_kthreads_stop_all(struct pinmm *eng)
{
	for (int d = 0; d < PINMM_DAEMON_NR; d++)
		(void)pinmm_daemon_stop(eng, (enum pinmm_daemon)d);
}
