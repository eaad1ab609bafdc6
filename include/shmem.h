/*
 * shmem.h
 *		How a component takes part in apikit's shared memory.
 *
 * Each component that keeps state in shared memory supplies a size function
 * and a startup function, and shmem.c lists it.  The startup function runs
 * in the postmaster (and again after a crash restart) with
 * AddinShmemInitLock held; "found" is false when the memory is new and must
 * be initialised.
 */
#ifndef APIKIT_SHMEM_H
#define APIKIT_SHMEM_H

typedef struct ApikitShmemComponent
{
	const char *name;			/* ShmemInitStruct key */
	Size		(*size) (void);
	void		(*startup) (void *ptr, bool found);
	void		(*request) (void);	/* optional: LWLock tranches and the like */
} ApikitShmemComponent;

#endif							/* APIKIT_SHMEM_H */
