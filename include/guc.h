/*
 * guc.h
 *		The C variables behind the apikit.* settings; see guc.c for what each
 *		one means to an administrator.
 */
#ifndef APIKIT_GUC_H
#define APIKIT_GUC_H

extern char *apikit_database;
extern int	apikit_heartbeat_interval;

#endif							/* APIKIT_GUC_H */
