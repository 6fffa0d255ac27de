#!/usr/bin/env python3
# The copy protocol's floor: exactly the system calls octoha's design needs per file (temp name
# beside the target, SHA-256 while streaming, fsync, the source's times, rename), with no Node, no
# manifest, no collision checks and no error handling, in P processes. `npm run bench -- --floor`
# times it beside cp and rsync: what no implementation of that protocol beats on the machine.
#
#   python3 bench/protocol-floor.py SRC DST [PROCESSES=4] [FSYNC=1]
import hashlib, os, sys
from multiprocessing import Pool
src, dst = sys.argv[1], sys.argv[2]
procs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
do_sync = (sys.argv[4] if len(sys.argv) > 4 else "1") == "1"
files = []
for root, dirs, names in os.walk(src):
    rel = os.path.relpath(root, src)
    os.makedirs(os.path.join(dst, rel), exist_ok=True)
    for n in names: files.append(os.path.join(rel, n))
def copy(chunk):
    for rel in chunk:
        s, t = os.path.join(src, rel), os.path.join(dst, rel)
        fi = os.open(s, os.O_RDONLY); st = os.fstat(fi)
        fo = os.open(t + ".octoha-tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        h = hashlib.sha256()
        while True:
            b = os.read(fi, 1 << 20)
            if not b: break
            h.update(b); os.write(fo, b)
        if do_sync: os.fsync(fo)
        os.utime(fo, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.close(fo); os.close(fi)
        os.rename(t + ".octoha-tmp", t)
with Pool(procs) as p: p.map(copy, [files[i::procs] for i in range(procs)])
