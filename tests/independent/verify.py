#!/usr/bin/env python3
"""An independent verifier of portal-ledger exports, written from
schema/LOG_FORMAT.md ("Checking an export offline") alone.

It shares no code with the service: JSON canonicalization (RFC 8785), the
envelope's canonical bytes, the hash chain, signed checkpoints and the
order of the checks are implemented here from the documents. When it
disagrees with `portal-ledger verify-export` on any file, the documents are
wrong (or incomplete) — which is what CI runs it for (see run.py).

Standard library plus one Ed25519 package (`cryptography`).

Usage:
    verify.py FILE (--public-key HEX | --public-key-file PATH | --no-signatures)
              [--expect-head POSITION:HASH] [--allow-unattested-tail]

Prints one line. On success: `ok <events> <last hash> <checkpoints> <attested>`,
exit 0. On the first failure: `fail <kind> <position or -> <line or ->: <why>`,
exit 1. Usage errors exit 2.
"""

import argparse
import collections
import datetime
import decimal
import hashlib
import json
import os
import re
import struct
import sys

MAX_LAG = 65536
ZERO = bytes(32)
CHECKPOINT_TYPE = "checkpoint.signed"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Failure(Exception):
    def __init__(self, kind, position, line, why):
        super().__init__(why)
        self.kind, self.position, self.line, self.why = kind, position, line, why


# --- RFC 8785 ---------------------------------------------------------------

def es_number(value):
    """ECMAScript Number::toString of a double (RFC 8785, 3.2.2.3)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip (as ECMAScript's);
    # value = 0.d1…dk × 10^n.
    _, digits, exponent = decimal.Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digits)).lstrip("0")
    trimmed = digits.rstrip("0")
    exponent += len(digits) - len(trimmed)
    digits, k = trimmed, len(trimmed)
    n = k + exponent
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return sign + out


def es_string(text):
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20:
            out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(value):
    """RFC 8785 text of a parsed JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        # Integers are numbers like any other: the text of their double.
        return es_number(float(value)) if abs(value) > 2**53 else str(value)
    if isinstance(value, float):
        return es_number(value)
    if isinstance(value, str):
        return es_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        # Member names ordered by their UTF-16 code units.
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(es_string(n) + ":" + canonical(value[n]) for n in names) + "}"
    raise ValueError("not JSON")


# --- The envelope -------------------------------------------------------------

def micros(text):
    match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise ValueError("recorded_at is not RFC 3339")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                               tzinfo=datetime.timezone.utc)
    offset = 0
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6])) * 1_000_000
    fraction = (fraction or "").ljust(6, "0")[:6]
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (moment - epoch) // datetime.timedelta(microseconds=1) + int(fraction) - offset


def read_event(text):
    event = json.loads(text)
    if not isinstance(event, dict):
        raise ValueError("a line is a JSON object")
    for field in ("position", "event_id", "stream_id", "stream_version", "event_type",
                  "schema_version", "payload", "metadata", "recorded_at", "prev_hash", "hash"):
        if field not in event:
            raise ValueError("missing field " + field)
    for field in ("position", "stream_version", "schema_version"):
        if not isinstance(event[field], int) or isinstance(event[field], bool) or event[field] < 0:
            raise ValueError(field + " is not an unsigned integer")
    for field in ("payload", "metadata"):
        if not isinstance(event[field], dict):
            raise ValueError(field + " must be a JSON object")
    for field in ("prev_hash", "hash"):
        if not isinstance(event[field], str) or not HEX64.match(event[field]):
            raise ValueError(field + " must be 64 lowercase hex digits")
    if not isinstance(event["event_id"], str) or not UUID.match(event["event_id"].lower()):
        raise ValueError("event_id is not a UUID")
    event["micros"] = micros(event["recorded_at"])
    return event


def framed(text):
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def event_hash(event, prev_hash):
    body = b"portal-ledger/event/v1"
    body += struct.pack(">Q", event["position"])
    body += bytes.fromhex(event["event_id"].replace("-", ""))
    body += framed(event["stream_id"])
    body += struct.pack(">Q", event["stream_version"])
    body += framed(event["event_type"])
    body += struct.pack(">I", event["schema_version"])
    body += framed(canonical(event["payload"]))
    body += framed(canonical(event["metadata"]))
    body += struct.pack(">q", event["micros"])
    return hashlib.sha256(prev_hash + body).digest()


# --- The Merkle tree (RFC 9162) -----------------------------------------------

def merkle_root(leaves):
    """MTH over event hashes, hex: leaf SHA-256(0x00‖data), node SHA-256(0x01‖l‖r)."""
    def mth(items):
        if not items:
            return hashlib.sha256(b"").digest()
        if len(items) == 1:
            return hashlib.sha256(b"\x00" + items[0]).digest()
        k = 1
        while k * 2 < len(items):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()
    return mth(leaves).hex()


def merkle_root_of_leaf_hashes(leaf_hashes):
    def mth(items):
        if not items:
            return hashlib.sha256(b"").digest()
        if len(items) == 1:
            return items[0]
        k = 1
        while k * 2 < len(items):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()
    return mth(leaf_hashes)


def account_chains(events):
    """Each account's (count, chain head) over (account, event hash) pairs."""
    chains = {}
    for account, event_hash in events:
        if account is None:
            continue
        count, head = chains.get(account, (0, ZERO))
        head = hashlib.sha256(b"portal-ledger account v1\n" + head + event_hash).digest()
        chains[account] = (count + 1, head)
    return chains


def account_leaf(account, count, head):
    return hashlib.sha256(b"\x00" + account.encode("utf-8") + b"\x00"
                          + struct.pack(">Q", count) + head).digest()


def accounts_root(events):
    chains = account_chains(events)
    names = sorted(chains, key=lambda a: a.encode("utf-8"))
    return merkle_root_of_leaf_hashes([account_leaf(a, *chains[a]) for a in names]).hex()


# --- Checkpoints --------------------------------------------------------------

def key_id(public):
    return hashlib.sha256(public).hexdigest()[:16]


def check_signature(public, payload):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not HEX64.match(payload["head_hash"]):
        raise ValueError("hash must be 64 lowercase hex digits")
    root = payload.get("tree_root")
    accounts = payload.get("accounts_root")
    for value in (root, accounts):
        if value is not None and (not isinstance(value, str) or not HEX64.match(value)):
            raise ValueError("hash must be 64 lowercase hex digits")
    if (root is None) != (accounts is None):
        raise ValueError("a v2 checkpoint signs both tree_root and accounts_root")
    try:
        signature = bytes.fromhex(payload["signature"])
    except ValueError:
        signature = b""
    if len(payload["signature"]) != 128 or len(signature) != 64:
        raise ValueError("the signature is not 128 hex digits")
    if root is None:
        message = "portal-ledger checkpoint v1\n%d\n%s\n" % (payload["head_position"], payload["head_hash"])
    else:
        message = "portal-ledger checkpoint v2\n%d\n%s\n%s\n%s\n" % (
            payload["head_position"], payload["head_hash"], root, accounts)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message.encode("ascii"))
    except InvalidSignature:
        raise ValueError("the signature does not verify with key " + key_id(public))


def checkpoint_payload(checkpoint):
    """The signed payload of a checkpoint as proofs, witnesses and tenant
    exports carry it (with its own `position` besides)."""
    payload = {k: checkpoint.get(k) for k in ("head_position", "head_hash", "key_id", "signature")}
    for k in ("tree_root", "accounts_root"):
        if checkpoint.get(k) is not None:
            payload[k] = checkpoint[k]
    return payload


class Checkpoints:
    def __init__(self, public):
        self.public = public
        self.recent = collections.deque(maxlen=MAX_LAG)
        self.leaves = []  # every event hash so far, for Merkle roots
        self.accounts = []  # (account or None, event hash) per event
        self.checked = 0
        self.attested = 0
        self.unattested = 0

    def observe(self, event, line):
        is_checkpoint = event["event_type"] == CHECKPOINT_TYPE
        if is_checkpoint:
            self.check(event, line)
        else:
            self.unattested += 1
        self.recent.append((event["position"], event["hash"], is_checkpoint))
        self.leaves.append(bytes.fromhex(event["hash"]))
        account = event["metadata"].get("account")
        self.accounts.append((account if isinstance(account, str) else None,
                              bytes.fromhex(event["hash"])))

    def check(self, event, line):
        def fail(kind, why):
            raise Failure(kind, event["position"], line, why)

        payload = event["payload"]
        fields = {"head_position", "head_hash", "key_id", "signature"}
        if set(payload) - {"tree_root", "accounts_root"} != fields or not isinstance(payload["head_position"], int) \
                or isinstance(payload["head_position"], bool) or payload["head_position"] < 0 \
                or not all(isinstance(payload[f], str) for f in ("head_hash", "key_id", "signature")):
            fail("checkpoint_unreadable", "checkpoint payload does not parse")
        if payload["key_id"] != key_id(self.public):
            fail("checkpoint_other_key", "checkpoint signed by key " + payload["key_id"])
        try:
            check_signature(self.public, payload)
        except ValueError as why:
            fail("checkpoint_signature", str(why))
        head = payload["head_position"]
        if head >= event["position"]:
            fail("checkpoint_not_before", "checkpoint attests position %d, which is not before it" % head)
        if head > 0:
            found = [h for (p, h, _) in self.recent if p == head]
            if not found:
                fail("checkpoint_too_far_back", "checkpoint attests position %d, too far back" % head)
            if found[0] != payload["head_hash"]:
                fail("checkpoint_chain_differs", "the chain has another hash at position %d" % head)
        if payload.get("tree_root") is not None and merkle_root(self.leaves[:head]) != payload["tree_root"]:
            fail("checkpoint_root_differs",
                 "the first %d events do not make the signed Merkle root" % head)
        if payload.get("accounts_root") is not None \
                and accounts_root(self.accounts[:head]) != payload["accounts_root"]:
            fail("checkpoint_accounts_root_differs",
                 "the first %d events' accounts do not make the signed accounts root" % head)
        self.checked += 1
        if head >= self.attested:
            self.attested = head
            self.unattested = sum(1 for (p, _, cp) in self.recent if p > head and not cp)


# --- The procedure --------------------------------------------------------------

def verify(lines, public, expected_head, allow_unattested_tail):
    last_position, last_hash, last_micros = 0, ZERO, None
    versions = {}
    checkpoints = Checkpoints(public) if public is not None else None
    pinned = None
    for index, text in enumerate(lines):
        line = index + 1
        if not text.strip():
            continue
        try:
            event = read_event(text)
        except ValueError as why:
            raise Failure("unreadable", None, line, str(why))
        # 1. positions without gaps
        if event["position"] != last_position + 1:
            raise Failure("position_missing", last_position + 1, line,
                          "event missing (the next position in the file is %d)" % event["position"])
        position = event["position"]
        # 2. the chain
        if event["prev_hash"] != last_hash.hex():
            raise Failure("prev_hash_mismatch", position, line, "prev_hash is not the previous hash")
        if event_hash(event, last_hash).hex() != event["hash"]:
            raise Failure("hash_mismatch", position, line, "content does not match its hash")
        expected_version = versions.get(event["stream_id"], 0) + 1
        if event["stream_version"] != expected_version:
            raise Failure("stream_version", position, line,
                          "stream %s has version %d where %d was expected"
                          % (event["stream_id"], event["stream_version"], expected_version))
        if last_micros is not None and event["micros"] < last_micros:
            raise Failure("time_went_back", position, line, "recorded_at went back")
        versions[event["stream_id"]] = event["stream_version"]
        last_position, last_hash, last_micros = position, bytes.fromhex(event["hash"]), event["micros"]
        # 3. checkpoints
        if checkpoints is not None:
            checkpoints.observe(event, line)
        if expected_head is not None and expected_head[0] == position:
            pinned = event["hash"]
    # 4. the pinned head
    if expected_head is not None:
        position, hash_hex = expected_head
        if pinned is None and position > 0:
            raise Failure("truncated", position, None,
                          "the file ends at position %d, before the pinned head" % last_position)
        if pinned is not None and pinned != hash_hex:
            raise Failure("pinned_head_differs", position, None, "the pinned head has another hash")
    # 5. the tail and the checkpoint-required rule
    if checkpoints is not None and not allow_unattested_tail:
        if checkpoints.checked == 0:
            raise Failure("no_checkpoint", None, None, "the file holds no signed checkpoint")
        if checkpoints.unattested > 0:
            raise Failure("unattested_tail", checkpoints.attested, None,
                          "%d event(s) after position %d are not covered by a signed checkpoint"
                          % (checkpoints.unattested, checkpoints.attested))
    return (last_position, last_hash.hex(),
            checkpoints.checked if checkpoints else 0, checkpoints.attested if checkpoints else 0)


# --- A tenant export -----------------------------------------------------------

def verify_leaf_inclusion(index, size, leaf, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_tenant(lines, public):
    numbered = [(i + 1, t) for i, t in enumerate(lines) if t.strip()]
    if not numbered:
        raise Failure("tenant_unreadable", None, 1, "the file is empty")
    first_line, first = numbered[0]
    try:
        header = json.loads(first)
        checkpoint, proofs = header["checkpoint"], header["accounts"]
        if header["tenant_export"] != 1 or not isinstance(proofs, list):
            raise ValueError("not a tenant export")
    except (ValueError, KeyError, TypeError) as why:
        raise Failure("tenant_unreadable", None, first_line, str(why))
    if public is not None:
        payload = checkpoint_payload(checkpoint)
        if payload["key_id"] != key_id(public):
            raise Failure("tenant_checkpoint", None, 1, "signed by another key")
        try:
            check_signature(public, payload)
        except (ValueError, TypeError) as why:
            raise Failure("tenant_checkpoint", None, 1, str(why))
    root = checkpoint.get("accounts_root")
    if not isinstance(root, str) or not HEX64.match(root):
        raise Failure("tenant_checkpoint", None, 1, "it commits to no accounts tree")
    committed = {}
    for proof in proofs:
        leaf = account_leaf(proof["account"], proof["count"], bytes.fromhex(proof["chain_head"]))
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        if not verify_leaf_inclusion(proof["index"], proof["size"], leaf, path, bytes.fromhex(root)):
            raise Failure("tenant_proof", None, 1, "account %s is not in the signed tree" % proof["account"])
        committed[proof["account"]] = proof
    seen, last = [], 0
    for line, text in numbered[1:]:
        try:
            event = read_event(text)
        except ValueError as why:
            raise Failure("tenant_unreadable", None, line, str(why))
        position = event["position"]
        if event_hash(event, bytes.fromhex(event["prev_hash"])).hex() != event["hash"]:
            raise Failure("tenant_entry_altered", position, line, "content does not match its hash")
        if position <= last:
            raise Failure("tenant_out_of_order", position, line, "not in position order")
        if position > checkpoint["head_position"]:
            raise Failure("tenant_after_checkpoint", position, line, "after the checkpoint")
        account = event["metadata"].get("account")
        if account not in committed:
            raise Failure("tenant_foreign_entry", position, line, "belongs to no exported account")
        seen.append((account, bytes.fromhex(event["hash"])))
        last = position
    chains = account_chains(seen)
    for account, proof in sorted(committed.items()):
        count, head = chains.get(account, (0, ZERO))
        if count != proof["count"]:
            raise Failure("tenant_count_differs", None, None,
                          "account %s: %d entries, %d committed" % (account, count, proof["count"]))
        if head.hex() != proof["chain_head"]:
            raise Failure("tenant_chain_differs", None, None, "account %s: another chain" % account)
    return len(seen)


# --- Merkle proofs ---------------------------------------------------------------

def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 §2.1.4.2 (0 < first ≤ second)."""
    if first == 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = ([first_root] if first & (first - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hashlib.sha256(b"\x01" + c + fr).digest()
            sr = hashlib.sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hashlib.sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def signed_tree_root(checkpoint, size, public):
    if checkpoint is None:
        raise Failure("proof_no_checkpoint", None, None, "no signed checkpoint for size %d" % size)
    if checkpoint.get("head_position") != size:
        raise Failure("proof_checkpoint", None, None, "the checkpoint signs another size")
    if checkpoint.get("key_id") != key_id(public):
        raise Failure("proof_checkpoint", None, None, "signed by another key")
    payload = checkpoint_payload(checkpoint)
    try:
        check_signature(public, payload)
    except (ValueError, TypeError) as why:
        raise Failure("proof_checkpoint", None, None, str(why))
    if payload.get("tree_root") is None:
        raise Failure("proof_checkpoint", None, None, "it signs no tree root")
    return bytes.fromhex(payload["tree_root"])


def verify_proof(text, public):
    try:
        proof = json.loads(text)
        unhex = lambda items: [bytes.fromhex(h) for h in items]
        if "audit_path" in proof:
            position, size = proof["position"], proof["size"]
            root, path = bytes.fromhex(proof["root"]), unhex(proof["audit_path"])
            leaf = hashlib.sha256(b"\x00" + bytes.fromhex(proof["event_hash"])).digest()
            roots = [(proof.get("checkpoint"), size, root)]
            valid = position >= 1 and verify_leaf_inclusion(position - 1, size, leaf, path, root)
        else:
            first, second = proof["from"], proof["to"]
            first_root, second_root = bytes.fromhex(proof["from_root"]), bytes.fromhex(proof["to_root"])
            roots = [(proof.get("from_checkpoint"), first, first_root),
                     (proof.get("to_checkpoint"), second, second_root)]
            valid = verify_consistency(first, second, first_root, second_root, unhex(proof["proof"]))
    except (ValueError, KeyError, TypeError) as why:
        raise Failure("proof_unreadable", None, None, str(why))
    if not valid:
        raise Failure("proof_invalid", None, None, "the proof does not lead to its root")
    if public is not None:
        for checkpoint, size, root in roots:
            if signed_tree_root(checkpoint, size, public) != root:
                raise Failure("proof_invalid", None, None, "the signed root is another")


def witnessed_head(directory, public):
    names = sorted(n for n in os.listdir(directory) if n.startswith("checkpoint-") and n.endswith(".json"))
    if not names:
        return None
    with open(os.path.join(directory, names[-1]), encoding="utf-8") as handle:
        checkpoint = json.load(handle)
    if public is not None:
        payload = checkpoint_payload(checkpoint)
        check_signature(public, payload)
    return (checkpoint["head_position"], checkpoint["head_hash"])


def public_key(text):
    text = text.strip()
    if not HEX64.match(text.lower()):
        raise argparse.ArgumentTypeError("a public key is 64 hex digits")
    return bytes.fromhex(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--public-key", type=public_key)
    group.add_argument("--public-key-file")
    group.add_argument("--no-signatures", action="store_true")
    parser.add_argument("--expect-head")
    parser.add_argument("--allow-unattested-tail", action="store_true")
    parser.add_argument("--tenant", action="store_true", help="FILE is a tenant export")
    parser.add_argument("--proof", action="store_true", help="FILE is a Merkle proof")
    parser.add_argument("--witness-dir", help="pin the head of the latest checkpoint in this witness directory")
    args = parser.parse_args()
    public = args.public_key
    if args.public_key_file:
        with open(args.public_key_file, encoding="ascii") as handle:
            public = public_key(handle.read())
    expected_head = None
    if args.expect_head:
        position, _, hash_hex = args.expect_head.partition(":")
        if not position.isdigit() or not HEX64.match(hash_hex):
            parser.error("--expect-head is POSITION:HASH")
        expected_head = (int(position), hash_hex)
    with open(args.file, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    if args.witness_dir:
        expected_head = witnessed_head(args.witness_dir, public)
    try:
        if args.proof:
            verify_proof("\n".join(lines), public)
            print("ok")
            return 0
        if args.tenant:
            print("ok %d" % verify_tenant(lines, public))
            return 0
        events, last, checked, attested = verify(lines, public, expected_head, args.allow_unattested_tail)
    except Failure as failure:
        show = lambda v: "-" if v is None else str(v)
        print("fail %s %s %s: %s" % (failure.kind, show(failure.position), show(failure.line), failure.why))
        return 1
    print("ok %d %s %d %d" % (events, last, checked, attested))
    return 0


if __name__ == "__main__":
    sys.exit(main())
