/**
 * libuv's thread pool (4 threads by default) runs every fs call: with 16 parallel copies each
 * waiting on an fsync, 4 threads would serialise them. On a share every call holds its thread for
 * a round trip, so the pool, not the share, decides how many are in flight (32 lstats per folder
 * listing, listings ahead on both sides, up to 64 small-file copies with the adaptive limit). The
 * no-op's gain from 24 to 64 threads was measured once on a busy machine and not reproduced, so it
 * is not quoted here: measure with `npm run bench -- --share-latency-us 500`. Must run before the first
 * fs/crypto call, so main.ts imports this module first. An operator's own UV_THREADPOOL_SIZE wins.
 */
process.env.UV_THREADPOOL_SIZE ??= "64";
export {};
