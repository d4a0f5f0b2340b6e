#!/usr/bin/env python3
"""A non-C++ client against the real server: Python stubs generated from the same proto.

Uses Debian's python3-grpcio and python3-grpc-tools only. Starts its own membership-mirror on a
fresh database of the test PostgreSQL (MM_TEST_DATABASE_URL), signs Huudis webhooks with
Python's hmac (an independent implementation of the signature recipe), and calls IsUserActive,
ListMembers, GetSeatCount (now and as of a past time), GetSeatUsage, ListSeatChanges and the
AdminService's dead-letter and history RPCs over gRPC.
"""
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

SERVER = os.environ.get("MM_SERVER_BINARY", "")
PROTO_DIR = os.environ.get("MM_PROTO_DIR", "")
TOKEN = "python-client-token"
SECRET = "whsec_python"


def generate_stubs(out_dir):
    from grpc_tools import protoc  # Debian: python3-grpc-tools
    import pkg_resources  # noqa: F401  (grpc_tools needs it for its bundled protos)
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", "-I/usr/include",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
            os.path.join(PROTO_DIR, "membership/v1/membership.proto")]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    sys.path.insert(0, out_dir)


def admin_url():
    url = os.environ.get("MM_TEST_DATABASE_URL")
    if not url:
        raise RuntimeError("MM_TEST_DATABASE_URL is not set: run the tests with scripts/test")
    return url


def psql(url, sql):
    subprocess.run(["psql", url, "-qtAc", sql], check=True, capture_output=True)


class Server:
    def __init__(self, db_url, callers_file):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
        env.update(MM_DATABASE_URL=db_url, MM_HUUDIS_SECRETS=SECRET, MM_CALLERS_FILE=callers_file,
                   MM_HTTP_LISTEN="127.0.0.1:0", MM_GRPC_LISTEN="127.0.0.1:0", MM_LOG_LEVEL="info")
        self.proc = subprocess.Popen([SERVER, "serve"], env=env, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.ports = None
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r'"msg":"listening","http_port":"(\d+)","grpc_port":"(\d+)"', line)
                if m:
                    self.ports = (int(m.group(1)), int(m.group(2)))
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            raise RuntimeError("server did not listen:\n" + "".join(self.log))
        self.http = f"http://127.0.0.1:{self.ports[0]}"
        self.grpc = f"127.0.0.1:{self.ports[1]}"
        for _ in range(200):
            try:
                with urllib.request.urlopen(self.http + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready:\n" + "".join(self.log))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def post_webhook(base, body):
    t = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), (t + ".").encode() + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(base + "/webhooks/huudis", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Huudis-Signature": f"t={t},v1={sig}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mm-py-")
        generate_stubs(cls.tmp)
        admin = admin_url()
        cls.db_name = f"mm_test_python_{os.getpid()}"
        psql(admin, f"DROP DATABASE IF EXISTS {cls.db_name} WITH (FORCE)")
        psql(admin, f"CREATE DATABASE {cls.db_name}")
        cls.admin = admin
        cls.db_url = admin.rsplit("/", 1)[0] + "/" + cls.db_name
        subprocess.run([SERVER, "migrate", "--database-url", cls.db_url], check=True, capture_output=True)
        callers = os.path.join(cls.tmp, "callers.json")
        with open(callers, "w") as f:
            json.dump([{"name": "python", "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                        "scopes": ["users:check", "members:read", "seats:read", "admin"]}], f)
        cls.server = Server(cls.db_url, callers)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        psql(cls.admin, f"DROP DATABASE IF EXISTS {cls.db_name} WITH (FORCE)")

    def stubs(self):
        import grpc
        from membership.v1 import membership_pb2, membership_pb2_grpc
        channel = grpc.insecure_channel(self.server.grpc)
        return (grpc, membership_pb2, membership_pb2_grpc.UserServiceStub(channel),
                membership_pb2_grpc.MembershipServiceStub(channel), membership_pb2_grpc.SeatServiceStub(channel))

    def test_is_user_active_list_members_and_seat_count(self):
        grpc, pb, users, members, seats = self.stubs()
        meta = (("authorization", "Bearer " + TOKEN),)
        seq = 0
        for i, (user, role) in enumerate([("usr_py_a", "owner"), ("usr_py_b", "member"), ("usr_py_c", "member")]):
            body = json.dumps({"id": f"evt_py_{i}", "type": "huudis.account.member_added.v1",
                               "createdAt": "2026-05-20T16:07:03.318Z",
                               "data": {"accountId": "acc_py", "accountName": "Py Co", "userId": user,
                                        "userEmail": f"{user}@example.net", "role": role,
                                        "joinedAt": "2026-05-20T16:07:03.251Z"}}).encode()
            answer = post_webhook(self.server.http, body)
            self.assertEqual(answer["status"], "applied")
            seq = answer["sequence"]
        disable = json.dumps({"id": "evt_py_disable", "type": "huudis.user.disabled.v1",
                              "createdAt": "2026-06-03T09:15:27.481Z",
                              "data": {"id": "usr_py_c", "disabledAt": "2026-06-03T09:15:27.402Z",
                                       "reason": "left_company"}}).encode()
        seq = post_webhook(self.server.http, disable)["sequence"]

        r = users.IsUserActive(pb.IsUserActiveRequest(user_id="usr_py_c", min_sequence=seq),
                               metadata=meta, timeout=5)
        self.assertFalse(r.active)
        self.assertEqual(r.state, pb.USER_STATE_DISABLED)
        self.assertEqual(r.disabled_reason, "left_company")
        self.assertGreaterEqual(r.sequence, seq)
        r = users.IsUserActive(pb.IsUserActiveRequest(user_id="usr_py_a"), metadata=meta, timeout=5)
        self.assertTrue(r.active)

        listed = members.ListMembers(pb.ListMembersRequest(account_id="acc_py", page_size=2),
                                     metadata=meta, timeout=5)
        self.assertEqual([m.user_id for m in listed.members], ["usr_py_a", "usr_py_b"])
        self.assertTrue(listed.next_page_token)
        rest = members.ListMembers(pb.ListMembersRequest(account_id="acc_py", page_size=2,
                                                         page_token=listed.next_page_token),
                                   metadata=meta, timeout=5)
        self.assertEqual([m.user_id for m in rest.members], ["usr_py_c"])
        self.assertEqual(rest.next_page_token, "")

        count = seats.GetSeatCount(pb.GetSeatCountRequest(account_id="acc_py"), metadata=meta, timeout=5)
        self.assertEqual(count.total, 3)
        self.assertEqual(count.billable, 2)
        self.assertEqual(dict(count.by_role), {"owner": 1, "member": 2})

    def test_dead_letters_replay_and_user_history(self):
        import grpc
        from membership.v1 import membership_pb2 as pb, membership_pb2_grpc
        admin = membership_pb2_grpc.AdminServiceStub(grpc.insecure_channel(self.server.grpc))
        meta = (("authorization", "Bearer " + TOKEN),)
        at = "2026-06-03T10:00:00.000Z"
        bad = json.dumps({"id": "evt_py_bad_role", "type": "huudis.account.member_added.v1", "createdAt": at,
                          "data": {"accountId": "acc_py_dl", "userId": "usr_py_dl", "role": "r" * 300,
                                   "joinedAt": at}}).encode()
        self.assertEqual(post_webhook(self.server.http, bad)["status"], "dead_lettered")
        good = json.dumps({"id": "evt_py_dl_disable", "type": "huudis.user.disabled.v1", "createdAt": at,
                           "data": {"id": "usr_py_dl", "disabledAt": at, "reason": "py"}}).encode()
        self.assertEqual(post_webhook(self.server.http, good)["status"], "applied")

        letters = admin.ListDeadLetters(pb.ListDeadLettersRequest(provider="huudis", pending_only=True),
                                        metadata=meta, timeout=5)
        self.assertIn("evt_py_bad_role", [d.event_id for d in letters.dead_letters])
        tried = admin.ReplayDeadLetters(pb.ReplayDeadLettersRequest(event_ids=["evt_py_bad_role"], dry_run=True),
                                        metadata=meta, timeout=10)
        self.assertTrue(tried.dry_run)
        self.assertEqual([(r.event_id, r.outcome) for r in tried.results], [("evt_py_bad_role", "dead_lettered")])
        self.assertIn("role", tried.results[0].reason)

        history = admin.ListUserEvents(pb.ListUserEventsRequest(user_id="usr_py_dl"), metadata=meta, timeout=5)
        self.assertEqual(sorted((e.event_id, e.outcome) for e in history.events),
                         [("evt_py_bad_role", "dead_lettered"), ("evt_py_dl_disable", "applied")])

    def test_seat_history_at_a_boundary_usage_and_changes(self):
        grpc, pb, _, _, seats = self.stubs()
        from google.protobuf import timestamp_pb2
        meta = (("authorization", "Bearer " + TOKEN),)

        def ts(text):
            t = timestamp_pb2.Timestamp()
            t.FromJsonString(text)
            return t

        for user, at in [("usr_pyh_a", "2026-11-01T00:00:00Z"), ("usr_pyh_b", "2026-11-16T00:00:00Z")]:
            body = json.dumps({"id": f"evt_pyh_{user}", "type": "huudis.account.member_added.v1", "createdAt": at,
                               "data": {"accountId": "acc_py_hist", "userId": user, "role": "member",
                                        "joinedAt": at}}).encode()
            self.assertEqual(post_webhook(self.server.http, body)["status"], "applied")

        mid = seats.GetSeatCount(pb.GetSeatCountRequest(account_id="acc_py_hist", as_of=ts("2026-11-15T12:00:00Z")),
                                 metadata=meta, timeout=5)
        self.assertEqual((mid.total, mid.billable, dict(mid.by_role)), (1, 1, {"member": 1}))
        november = pb.GetSeatUsageRequest(account_id="acc_py_hist", start=ts("2026-11-01T00:00:00Z"),
                                          end=ts("2026-12-01T00:00:00Z"))
        usage = seats.GetSeatUsage(november, metadata=meta, timeout=5)
        self.assertEqual(usage.billable_seat_seconds / 86400, 45.0)  # 30 + 15 seat-days
        self.assertAlmostEqual(usage.mean_billable, 1.5)
        self.assertEqual((usage.min_billable, usage.max_billable), (1, 2))

        first = seats.ListSeatChanges(pb.ListSeatChangesRequest(account_id="acc_py_hist", start=november.start,
                                                                end=november.end, page_size=1),
                                      metadata=meta, timeout=5)
        self.assertEqual([(c.user_id, c.delta) for c in first.changes], [("usr_pyh_a", 1)])
        rest = seats.ListSeatChanges(pb.ListSeatChangesRequest(account_id="acc_py_hist", start=november.start,
                                                               end=november.end, page_size=1,
                                                               page_token=first.next_page_token),
                                     metadata=meta, timeout=5)
        self.assertEqual([(c.user_id, c.at.ToJsonString()) for c in rest.changes],
                         [("usr_pyh_b", "2026-11-16T00:00:00Z")])

        with self.assertRaises(grpc.RpcError) as e:
            seats.GetSeatUsage(pb.GetSeatUsageRequest(account_id="acc_py_hist", start=november.end,
                                                      end=november.start), metadata=meta, timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_errors_map_to_grpc_codes(self):
        grpc, pb, users, _, _ = self.stubs()
        with self.assertRaises(grpc.RpcError) as e:
            users.IsUserActive(pb.IsUserActiveRequest(user_id="usr_x"), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as e:
            users.IsUserActive(pb.IsUserActiveRequest(user_id=""), metadata=(("authorization", "Bearer " + TOKEN),),
                               timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
