#!/usr/bin/env python3
"""Writes the seed corpus of one fuzz target (tests/fuzz/CMakeLists.txt) into a directory:
the provider fixtures (tests/fixtures/) in the shape that target reads, plus the committed
seeds of tests/fuzz/seeds/<target>/. Run by scripts/fuzz.

    make_seeds.py <target> <fixtures dir> <committed seeds dir> <out dir>
"""
import glob
import hashlib
import hmac
import json
import os
import shutil
import sys

# tests/fuzz/huudis_adapter_fuzz.cc and http_ingress_fuzz.cc: the secret and receive time.
SECRET = b"whsec_fuzz_secret_000000000000000"
NOW = 1780478129


def read(path):
    with open(path, "rb") as f:
        return f.read()


def huudis_signature(body):
    mac = hmac.new(SECRET, str(NOW).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={NOW},v1={mac}".encode()


def fusionauth_users(fixtures):
    users = []
    for path in sorted(glob.glob(os.path.join(fixtures, "fusionauth.*.json"))):
        user = json.loads(read(path)).get("event", {}).get("user")
        if user:
            users.append(user)
    return users


def seeds(target, fixtures):
    """(name, bytes) pairs made from the fixtures."""
    def fixture(pattern):
        for path in sorted(glob.glob(os.path.join(fixtures, pattern))):
            yield os.path.basename(path), read(path)

    if target == "huudis_adapter_fuzz":
        for name, body in fixture("huudis.*.json"):
            yield name, body
            yield name + ".signed", huudis_signature(body) + b"\n" + body
    elif target == "fusionauth_adapter_fuzz":
        # Bodies: the fuzzer signs them itself (way 2); the test vector's token and body as a
        # header line and body (way 1), which verify only against its own secret.
        for name, body in fixture("fusionauth.*.json"):
            if name.startswith("fusionauth.signature-test-vector"):
                vector = json.loads(body)
                yield name, (vector["headers"]["X-FusionAuth-Signature-JWT"] + "\n" + vector["rawBody"]).encode()
            else:
                yield name, body
    elif target == "huudis_audit_page_fuzz":
        yield from fixture("huudis.audit-log.page.json")
        yield from fixture("huudis.api-error.json")
    elif target == "huudis_members_page_fuzz":
        yield from fixture("huudis.iam-users.page.json")
    elif target == "huudis_end_users_page_fuzz":
        yield from fixture("huudis.end-users.page.json")
    elif target == "monocloud_users_page_fuzz":
        users = [json.loads(body) for _, body in fixture("monocloud.user*.json")]
        yield "users", json.dumps(users, indent=1).encode()
        header = {"page_size": 2, "current_page": 1, "total_count": 3, "has_previous": False, "has_next": True}
        yield "users.paged", b"X-Pagination: " + json.dumps(header).encode() + b"\n" + json.dumps(users).encode()
        yield from fixture("monocloud.problem.*.json")
    elif target == "fusionauth_search_page_fuzz":
        users = fusionauth_users(fixtures)
        yield "search", json.dumps({"total": len(users), "users": users, "nextResults": "abc"}, indent=1).encode()
        yield from fixture("fusionauth.api-error.*.json")
    elif target == "fusionauth_user_fuzz":
        for i, user in enumerate(fusionauth_users(fixtures)):
            yield f"user{i}", json.dumps({"user": user}).encode()
    elif target == "http_ingress_fuzz":
        for name, body in fixture("huudis.*.json"):
            yield name, (b"POST /webhooks/huudis HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                         b"Huudis-Signature: @SIG@\r\nContent-Length: " + str(len(body)).encode() +
                         b"\r\n\r\n" + body)
    elif target == "records_json_fuzz":
        # Any fixture object as a record of each kind: unknown keys are ignored, known ones typed.
        for name, body in fixture("huudis.user.*.json"):
            data = json.dumps(json.loads(body).get("data", {})).encode()
            for kind in range(3):
                yield f"{name}.{kind}", bytes([kind]) + data


def main():
    target, fixtures, committed, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds(target, fixtures):
        with open(os.path.join(out, "fixture." + name), "wb") as f:
            f.write(data)
    if os.path.isdir(committed):
        for path in glob.glob(os.path.join(committed, "*")):
            shutil.copyfile(path, os.path.join(out, "seed." + os.path.basename(path)))


if __name__ == "__main__":
    main()
