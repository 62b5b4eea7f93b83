/* exitcodes.c - see exitcodes.h */
#include "exitcodes.h"

const char *az_exit_name(int code)
{
	switch (code) {
	case AZ_EXIT_OK: return "ok";
	case AZ_EXIT_INTERNAL: return "internal_error";
	case AZ_EXIT_USAGE: return "usage_error";
	case AZ_EXIT_UNREACHABLE: return "unreachable";
	case AZ_EXIT_AUTH: return "auth_or_permission";
	case AZ_EXIT_LOCK: return "lock_timeout";
	case AZ_EXIT_BACKUP: return "backup_failed";
	case AZ_EXIT_MIGRATION: return "migration_failed";
	case AZ_EXIT_NEEDS_ACTION: return "needs_action";
	case AZ_EXIT_TENANTS_FAILED: return "tenants_failed";
	case AZ_EXIT_INTERRUPTED: return "interrupted";
	case AZ_EXIT_PENDING: return "pending";
	}
	return "unknown";
}
