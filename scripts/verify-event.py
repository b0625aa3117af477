import base64, hashlib, json, sys, urllib.request
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

API, EVENT_ID = sys.argv[1], sys.argv[2]   # e.g. http://127.0.0.1:3050 01M8...
get = lambda path: json.load(urllib.request.urlopen(API + path))  # add your Authorization header
h = lambda data: hashlib.sha256(data).digest()

# 1. The checkpoint's signature, with the public key it names (compare that key with the one you
#    were given out of band).
proof = get(f"/api/logs/{EVENT_ID}/proof")
cp = proof["checkpoint"]
key = serialization.load_der_public_key(base64.b64decode(cp["public_key"]))
key.verify(base64.b64decode(cp["signature"]), cp["checkpoint"].encode(), ec.ECDSA(hashes.SHA256()))
origin, size, root = cp["checkpoint"].split("\n")[:3]
size, root = int(size), base64.b64decode(root)

# 2. The event's leaf: SHA-256(0x00 || JCS(log)). For these objects (string keys, strings and
#    integers) sorted compact JSON is JCS; use an RFC 8785 library for floats.
log = get(f"/api/logs/{EVENT_ID}")["log"]
leaf = h(b"\x00" + json.dumps(log, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())

# 3. The latest version's inclusion proof (RFC 9162 section 2.1.3.2).
version = proof["versions"][-1]
index, node, last = version["leaf_index"], leaf, size - 1
for sibling in map(base64.b64decode, version["inclusion"]):
    if index % 2 == 1 or index == last:
        node = h(b"\x01" + sibling + node)
        while index % 2 == 0 and index != 0:
            index, last = index >> 1, last >> 1
    else:
        node = h(b"\x01" + node + sibling)
    index, last = index >> 1, last >> 1
assert node == root and last == 0, "the event is not in the signed log"
print(f"{EVENT_ID} is leaf {version['leaf_index']} of {origin}, size {size}: verified")
