/*
 * guc.h
 *		The C variables behind the apikit.* settings; see guc.c for what each
 *		one means to an administrator.
 */
#ifndef APIKIT_GUC_H
#define APIKIT_GUC_H

extern char *apikit_database;
extern int	apikit_heartbeat_interval;
extern int	apikit_ratelimit_max_keys;
extern bool apikit_ratelimit_enabled;

#endif							/* APIKIT_GUC_H */
