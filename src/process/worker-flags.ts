// process/: how a forked worker learns the primary's command line: the parsed CliFlags as JSON in one environment
// variable (the worker loads the same bootstrap with them and, seeing it is a cluster worker, runs a data plane only).
export const WORKER_FLAGS_ENV = 'MESHLET_WORKER_FLAGS';
