/*
 * apikit.h
 *		Things every part of apikit shares: the component entry points that
 *		_PG_init calls and the check that shared memory is there.
 */
#ifndef APIKIT_H
#define APIKIT_H

#ifndef APIKIT_VERSION
#error "APIKIT_VERSION must be defined by the Makefile (from apikit.control)"
#endif

/* True while apikit is being loaded by shared_preload_libraries. */
extern bool apikit_preloading;

/* guc.c */
extern void apikit_guc_init(void);
extern void apikit_jsonschema_init(void);

/* shmem.c */
extern void apikit_shmem_init(void);
extern void apikit_shmem_require(const char *what);

/* install_notice.c */
extern void apikit_install_notice_init(void);

/* worker/scheduler.c */
extern void apikit_scheduler_register(void);

#endif							/* APIKIT_H */
