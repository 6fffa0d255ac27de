/**
 * libuv's thread pool (4 threads by default) runs every fs call: with 16 parallel copies each
 * waiting on an fsync, 4 threads would serialise them. On a share every call holds its thread for
 * a round trip, so the pool, not the share, decided how many were in flight: with 24 threads the
 * no-op re-run of 5 524 files (32 lstats in flight per folder listing, listings ahead on both
 * sides) waited ~12 ms per 0.5 ms lstat in the pool's queue and took 1.43 s; with 64, 0.83-0.98 s.
 * 64 also leaves room for the adaptive copy limit (up to 64 files). Must run before the first
 * fs/crypto call, so main.ts imports this module first. An operator's own UV_THREADPOOL_SIZE wins.
 */
process.env.UV_THREADPOOL_SIZE ??= "64";
export {};
