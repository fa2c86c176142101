/** The command line's own usage error, for mistakes commander cannot see (exit code 2). */

/** A usage error found after parsing (exit code 2). */
export class UsageError extends Error {}
