/*
 * guc.h
 *		The C variables behind the apikit.* settings; see guc.c for what each
 *		one means to an administrator.
 */
#ifndef APIKIT_GUC_H
#define APIKIT_GUC_H

/* apikit.ratelimit_when_full */
typedef enum ApikitRatelimitWhenFull
{
	APIKIT_RL_FULL_EVICT,
	APIKIT_RL_FULL_DENY
} ApikitRatelimitWhenFull;

extern char *apikit_database;
extern double apikit_heartbeat_interval;
extern int	apikit_ratelimit_max_keys;
extern bool apikit_ratelimit_enabled;
extern int	apikit_ratelimit_when_full;
extern int	apikit_ratelimit_database_share;
extern bool apikit_audit_enabled;
extern bool apikit_audit_statement;
extern double apikit_audit_seal_interval;
extern char *apikit_actor;
extern int	apikit_json_default_draft;
extern bool apikit_json_format_assertion;
extern bool apikit_json_errors_as_http;

#endif							/* APIKIT_GUC_H */
