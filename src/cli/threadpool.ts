/**
 * libuv's thread pool (4 threads by default) runs every fs call: with 16 parallel copies each
 * waiting on an fsync, 4 threads would serialise them. Must run before the first fs/crypto call,
 * so main.ts imports this module first. An operator's own UV_THREADPOOL_SIZE wins.
 */
process.env.UV_THREADPOOL_SIZE ??= "24";
export {};
