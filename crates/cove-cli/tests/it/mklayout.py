#!/usr/bin/env python3
"""Writes an OCI image layout for the template tests. argv: OUT_DIR SPEC_JSON.
SPEC = {"layers": [[entry, ...], ...], "config": {...}}; an entry is
{"path", "type": file|dir|symlink|hardlink|chardev|blockdev|host|bashroot, "data", "target", "mode", "uid"}.
`host` copies a host file's content; `bashroot` adds /bin/bash, its libraries and a tiny /etc.
Paths are written verbatim (so "../x" stays malicious)."""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

def add(tf, path, kind, data=b"", target="", mode=None, uid=0):
    ti = tarfile.TarInfo(path)
    ti.uid = ti.gid = uid
    if kind == "file":
        ti.type, ti.size, ti.mode = tarfile.REGTYPE, len(data), mode or 0o644
        tf.addfile(ti, io.BytesIO(data))
        return
    ti.mode = mode or 0o755
    ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
               "chardev": tarfile.CHRTYPE, "blockdev": tarfile.BLKTYPE}[kind]
    if kind in ("chardev", "blockdev"):
        ti.devmajor, ti.devminor = 1, 3
    ti.linkname = target
    tf.addfile(ti)

def bashroot(tf):
    for d, m, u in [("bin", 0o755, 0), ("etc", 0o755, 0), ("tmp", 0o1777, 0), ("home", 0o755, 0),
                    ("home/user", 0o755, 1000), ("root", 0o700, 0), ("proc", 0o555, 0),
                    ("sys", 0o555, 0), ("dev", 0o755, 0)]:
        add(tf, d, "dir", mode=m, uid=u)
    libs = subprocess.run(["ldd", "/bin/bash"], capture_output=True, text=True).stdout
    paths = ["/bin/bash"] + [w for l in libs.splitlines() for w in l.split() if w.startswith("/")]
    made = set()
    for p in paths:
        parts = p.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in made and d not in ("bin", "etc"):
                made.add(d)
                add(tf, d, "dir")
        data = open(os.path.realpath(p), "rb").read()
        add(tf, p.strip("/"), "file", data, mode=0o755)
    add(tf, "bin/sh", "symlink", target="bash")
    add(tf, "etc/passwd", "file",
        b"root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000:user:/home/user:/bin/bash\n")
    add(tf, "etc/group", "file", b"root:x:0:\nuser:x:1000:\n")

def main():
    out, spec = sys.argv[1], json.loads(sys.argv[2])
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    def put(b):
        h = hashlib.sha256(b).hexdigest()
        open(os.path.join(blobs, h), "wb").write(b)
        return "sha256:" + h
    layers, diff_ids = [], []
    for entries in spec["layers"]:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for e in entries:
                if e["type"] == "bashroot":
                    bashroot(tf)
                elif e["type"] == "host":
                    add(tf, e["path"], "file", open(e["target"], "rb").read(), mode=0o755)
                else:
                    add(tf, e["path"], e["type"], e.get("data", "").encode(), e.get("target", ""),
                        e.get("mode"), e.get("uid", 0))
        tarb = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tarb).hexdigest())
        gz = gzip.compress(tarb, compresslevel=1, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": put(gz), "size": len(gz)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": spec.get("config", {}),
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": put(config), "size": len(config)},
                           "layers": layers}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    json.dump(index, open(os.path.join(out, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
    print(json.dumps([l["digest"] for l in layers]))

main()
