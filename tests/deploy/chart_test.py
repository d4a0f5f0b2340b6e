#!/usr/bin/env python3
"""Tests of the Helm chart deploy/helm/membership-mirror (and the image it runs).

Lints the chart with `helm lint --strict`, renders it with `helm template` (default values, the
full-featured ci/full-values.yaml, and a few single-setting variants) and checks the manifests:
the hardened security context, probes, Service ports, the migrations hook, HPA/PDB, the optional
objects, the DESIGN §7 environment contract, and above all that no secret material is ever
rendered into a manifest.

helm: $HELM if set, else whatever scripts/helm-tool prints (it fetches helm on first use).
Needs PyYAML (Debian: python3-yaml); stdlib unittest otherwise.

    python3 tests/deploy/chart_test.py [-v] [TestClass.test_name]
"""

import base64
import functools
import json
import os
import pathlib
import re
import subprocess
import sys
import unittest

try:
    import yaml
except ImportError:  # A python3 without PyYAML on PATH (pyenv, venv): try Debian's, which has it.
    if sys.executable != "/usr/bin/python3" and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("chart_test.py needs PyYAML: apt-get install python3-yaml")

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "membership-mirror"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
RELEASE = "mm"

# DESIGN §7: the environment variables the chart may set, and which of them carry secrets.
CONTRACT_ENV = {
    "MM_DATABASE_URL", "MM_HTTP_LISTEN", "MM_GRPC_LISTEN", "MM_HUUDIS_SECRETS",
    "MM_FUSIONAUTH_HMAC_SECRETS", "MM_FUSIONAUTH_PUBLIC_KEYS_FILE", "MM_CALLERS_FILE",
    "MM_INSECURE_NO_AUTH", "MM_UNKNOWN_USERS", "MM_HUUDIS_TOLERANCE", "MM_MAX_BODY_BYTES",
    "MM_LOG_LEVEL", "MM_MAX_CLOCK_SKEW_SECONDS", "MM_FUSIONAUTH_MEMBERSHIPS",
    "MM_FUSIONAUTH_ALLOW_UNSIGNED", "MM_FUSIONAUTH_BASIC_AUTH_FILE",
    "MM_SEAT_LEDGER_RETENTION_DAYS",  # DESIGN §4a
    # The database's topology (server/config/settings.cc: database-pool-mode, database-listen-url,
    # database-read-url): PgBouncer transaction pooling, its direct connection, a read replica.
    "MM_DATABASE_POOL_MODE", "MM_DATABASE_LISTEN_URL", "MM_DATABASE_READ_URL", "MM_DATABASE_READ_MAX_WAIT_MS",
}
# The optional database connections: values entry -> (env, default key, devSecret value).
DATABASE_EXTRA = {
    "databaseListen": ("MM_DATABASE_LISTEN_URL", "database-listen-url", "databaseListenUrl"),
    "databaseRead": ("MM_DATABASE_READ_URL", "database-read-url", "databaseReadUrl"),
}
DATABASE_EXTRA_ON = tuple(f"secrets.{entry}.enabled=true" for entry in DATABASE_EXTRA)
# Unsigned FusionAuth webhooks: the setting and the Basic credentials it needs.
FUSIONAUTH_UNSIGNED_ON = ("config.fusionauthAllowUnsigned=true",
                          "secrets.fusionauthBasicAuth.enabled=true")
# The pull sources' settings (sources.* in values.yaml): off by default, so none is rendered then.
SOURCE_FILE_ENV = {  # credential files, mounted from Secrets: env -> source
    "MM_HUUDIS_API_TOKEN_FILE": "huudis", "MM_MONOCLOUD_API_KEY_FILE": "monocloud",
    "MM_FUSIONAUTH_API_KEY_FILE": "fusionauth",
}
SOURCE_ENV = set(SOURCE_FILE_ENV) | {
    "MM_HUUDIS_API_URL", "MM_HUUDIS_WORKSPACES", "MM_HUUDIS_AUDIT_POLL_SECONDS",
    "MM_HUUDIS_AUDIT_OVERLAP_SECONDS", "MM_RECONCILE_INTERVAL_SECONDS", "MM_RECONCILE_DRY_RUN",
    "MM_MONOCLOUD_API_URL", "MM_MONOCLOUD_GROUPS", "MM_MONOCLOUD_POLL_SECONDS",
    "MM_FUSIONAUTH_API_URL", "MM_FUSIONAUTH_TENANTS", "MM_FUSIONAUTH_RECHECK_SECONDS",
    "MM_SOURCE_CA_FILE", "MM_SOURCE_CONNECT_TIMEOUT_MS", "MM_SOURCE_TIMEOUT_MS",
    "MM_SOURCE_PAGE_SIZE",
}
CONTRACT_ENV |= SOURCE_ENV
# The plain source settings ci/full-values.yaml must give (the trailing slash of the Huudis URL
# is dropped; lists are joined with commas).
FULL_SOURCE_SETTINGS = {
    "MM_HUUDIS_API_URL": "https://huudis.com/api",
    "MM_HUUDIS_WORKSPACES": "acc_01KHNBH9JCVBRBAVHNB1HYYFDX,acc_01KHNBJ2Q7W3XK8M5T6Y9Z0ABC",
    "MM_HUUDIS_AUDIT_POLL_SECONDS": "15", "MM_HUUDIS_AUDIT_OVERLAP_SECONDS": "120",
    "MM_MONOCLOUD_API_URL": "https://acme.monocloud.com",
    "MM_MONOCLOUD_GROUPS": "grp_engineering,grp_support", "MM_MONOCLOUD_POLL_SECONDS": "45",
    "MM_FUSIONAUTH_API_URL": "https://fusionauth.identity-infra.svc:9011",
    "MM_FUSIONAUTH_TENANTS":
        "5f0a1b6e-3c2d-4e8f-9a7b-1c2d3e4f5a6b,9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "MM_FUSIONAUTH_RECHECK_SECONDS": "10",
    "MM_RECONCILE_INTERVAL_SECONDS": "600", "MM_RECONCILE_DRY_RUN": "1",
    "MM_SOURCE_CONNECT_TIMEOUT_MS": "3000", "MM_SOURCE_TIMEOUT_MS": "20000",
    "MM_SOURCE_PAGE_SIZE": "50",
}
# What enabling one source with the chart's defaults gives (the server's defaults).
HUUDIS_DEFAULT_SETTINGS = {
    "MM_HUUDIS_API_URL": "https://huudis.example/api", "MM_HUUDIS_AUDIT_POLL_SECONDS": "30",
    "MM_HUUDIS_AUDIT_OVERLAP_SECONDS": "60", "MM_RECONCILE_INTERVAL_SECONDS": "900",
    "MM_RECONCILE_DRY_RUN": "0", "MM_SOURCE_CONNECT_TIMEOUT_MS": "5000",
    "MM_SOURCE_TIMEOUT_MS": "30000", "MM_SOURCE_PAGE_SIZE": "100",
}
HUUDIS_ON = ("sources.huudis.enabled=true", "sources.huudis.url=https://huudis.example/api")
TLS_ENV = {
    f"MM_{listener}_TLS_{part}_FILE"
    for listener in ("GRPC", "HTTP") for part in ("CERT", "KEY", "CLIENT_CA")
}
SECRET_ENV = {"MM_DATABASE_URL", "MM_HUUDIS_SECRETS", "MM_FUSIONAUTH_HMAC_SECRETS",
              "MM_DATABASE_LISTEN_URL", "MM_DATABASE_READ_URL"}
# What the default values must give the server (everything but the opt-in settings).
DEFAULT_ENV = {
    "MM_DATABASE_URL": None, "MM_HUUDIS_SECRETS": None, "MM_CALLERS_FILE": None,
    "MM_HTTP_LISTEN": "0.0.0.0:8080", "MM_GRPC_LISTEN": "0.0.0.0:50051",
    "MM_UNKNOWN_USERS": "active", "MM_HUUDIS_TOLERANCE": "300",
    "MM_MAX_BODY_BYTES": "1048576", "MM_LOG_LEVEL": "info", "MM_MAX_CLOCK_SKEW_SECONDS": "300",
    "MM_FUSIONAUTH_MEMBERSHIPS": "registrations,groups", "MM_SEAT_LEDGER_RETENTION_DAYS": "400",
    "MM_DATABASE_POOL_MODE": "session", "MM_DATABASE_READ_MAX_WAIT_MS": "1000",
}
# Metrics the server exports (issue 5) and the dashboard must chart.
METRICS = [
    "mm_grpc_requests_total", "mm_grpc_request_duration_seconds", "mm_webhook_requests_total",
    "mm_writer_batch_size", "mm_writer_commit_duration_seconds", "mm_cache_users",
    "mm_changelog_lag_sequences", "mm_db_pool_in_use", "mm_dead_letters_total",
]


@functools.lru_cache(maxsize=None)
def helm_binary():
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    result = subprocess.run([str(REPO / "scripts" / "helm-tool")], capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"scripts/helm-tool found no helm:\n{result.stderr}")
    return result.stdout.strip()


def helm(*args):
    """Runs helm; returns (exit code, stdout + stderr)."""
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def value_args(full=False, sets=()):
    args = ["-f", str(FULL_VALUES)] if full else []
    for s in sets:
        args += ["--set", s]
    return args


@functools.lru_cache(maxsize=None)
def render(full=False, sets=()):
    """Rendered manifests as (text, list of objects). Fails the calling test on a helm error."""
    code, out = helm("template", RELEASE, str(CHART), "--namespace", "identity",
                     *value_args(full, sets))
    if code != 0:
        raise AssertionError(f"helm template failed:\n{out}")
    return out, [doc for doc in yaml.safe_load_all(out) if doc]


def objects(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind, name=None):
    found = [d for d in objects(docs, kind) if name is None or d["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def server_container(docs):
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "membership-mirror"]
    return pod, container


def effective_env(docs):
    """The server's environment: the ConfigMaps it loads with envFrom, then its env list.
    Maps name -> {"value": ...} or {"valueFrom": ...}."""
    pod, container = server_container(docs)
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            cm = one(docs, "ConfigMap", source["configMapRef"]["name"])
            env.update({k: {"value": v} for k, v in cm.get("data", {}).items()})
    for var in container.get("env", []):
        env[var["name"]] = {k: v for k, v in var.items() if k != "name"}
    return env


def mount_of(docs, path):
    """(volumeMount, volume) that provide file `path` in the server container, or (None, None)."""
    pod, container = server_container(docs)
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            return mount, volumes[mount["name"]]
    return None, None


def mounted_file(docs, path):
    """The volume that provides file `path` in the server container, or None."""
    return mount_of(docs, path)[1]


def template_error(*sets):
    """helm template with --set values that must fail: returns its output."""
    code, out = helm("template", RELEASE, str(CHART), *value_args(sets=sets))
    if code == 0:
        raise AssertionError(f"helm template succeeded with {sets}")
    return out


def full_values():
    return yaml.safe_load(FULL_VALUES.read_text())


class LintTest(unittest.TestCase):
    def test_lint_strict_default_values(self):
        code, out = helm("lint", "--strict", str(CHART))
        self.assertEqual(code, 0, out)

    def test_lint_strict_full_values(self):
        code, out = helm("lint", "--strict", str(CHART), *value_args(full=True))
        self.assertEqual(code, 0, out)


class HardeningChecks:
    """Assertions shared by every rendering: they must hold whatever the values."""

    full = False

    def docs(self, sets=()):
        return render(self.full, sets)[1]

    def assert_hardened(self, pod, container):
        psc, csc = pod["securityContext"], container["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True)
        self.assertEqual(psc["runAsUser"], 10001)
        self.assertEqual(psc["seccompProfile"], {"type": "RuntimeDefault"})
        self.assertIs(csc["runAsNonRoot"], True)
        self.assertIs(csc["readOnlyRootFilesystem"], True)
        self.assertIs(csc["allowPrivilegeEscalation"], False)
        self.assertEqual(csc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", csc["capabilities"])
        self.assertEqual(csc["seccompProfile"], {"type": "RuntimeDefault"})
        # The read-only root needs a writable /tmp, and it must be an emptyDir.
        volumes = {v["name"]: v for v in pod["volumes"]}
        (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        self.assertIn("emptyDir", volumes[tmp["name"]])
        self.assertIn("requests", container["resources"])
        self.assertIn("limits", container["resources"])

    def test_server_and_migrations_are_hardened(self):
        docs = self.docs()
        self.assert_hardened(*server_container(docs))
        job_pod = one(docs, "Job")["spec"]["template"]["spec"]
        self.assert_hardened(job_pod, job_pod["containers"][0])

    def test_service_ports(self):
        service = one(self.docs(), "Service", f"{RELEASE}-membership-mirror")
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        self.assertEqual(set(ports), {"http", "grpc"})
        self.assertEqual((ports["http"]["port"], ports["http"]["targetPort"]), (8080, "http"))
        self.assertEqual((ports["grpc"]["port"], ports["grpc"]["targetPort"]), (50051, "grpc"))
        self.assertEqual(ports["grpc"]["appProtocol"], "grpc")
        _, container = server_container(self.docs())
        container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        self.assertEqual(container_ports, {"http": 8080, "grpc": 50051})

    def test_migrations_job_is_a_pre_install_and_pre_upgrade_hook(self):
        job = one(self.docs(), "Job")
        annotations = job["metadata"]["annotations"]
        self.assertEqual(annotations["helm.sh/hook"], "pre-install,pre-upgrade")
        self.assertEqual(annotations["helm.sh/hook-delete-policy"],
                         "before-hook-creation,hook-succeeded")
        int(annotations["helm.sh/hook-weight"])
        pod = job["spec"]["template"]["spec"]
        self.assertEqual(pod["restartPolicy"], "Never")
        self.assertEqual(pod["containers"][0]["args"], ["migrate"])
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        self.assertIn("secretKeyRef", env["MM_DATABASE_URL"]["valueFrom"])
        # Migrations work through a transaction pooler: the database URL is all the Job needs.
        self.assertEqual(set(env), {"MM_DATABASE_URL", "MM_LOG_LEVEL"})
        # Hooks run before the release's ordinary objects exist: the Job must not need them.
        self.assertNotIn("envFrom", pod["containers"][0])
        created = {sa["metadata"]["name"] for sa in objects(self.docs(), "ServiceAccount")}
        self.assertNotIn(pod.get("serviceAccountName", "default"), created)

    def test_hpa_and_pdb(self):
        docs = self.docs()
        hpa = one(docs, "HorizontalPodAutoscaler")
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"],
                         one(docs, "Deployment")["metadata"]["name"])
        # The HPA owns the replica count; a replicas field would reset it on every upgrade.
        self.assertNotIn("replicas", one(docs, "Deployment")["spec"])
        pdb = one(docs, "PodDisruptionBudget")
        self.assertEqual(pdb["apiVersion"], "policy/v1")
        self.assertTrue({"minAvailable", "maxUnavailable"} & set(pdb["spec"]))
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"],
                         one(docs, "Deployment")["spec"]["selector"]["matchLabels"])

    def test_shutdown_and_spreading(self):
        pod, container = server_container(self.docs())
        self.assertEqual(container["args"], ["serve"])
        self.assertEqual(pod["terminationGracePeriodSeconds"], 30)
        sleep = container["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(sleep[0], "sleep")
        self.assertLess(int(sleep[1]), pod["terminationGracePeriodSeconds"])
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        self.assertEqual(keys, {"topology.kubernetes.io/zone", "kubernetes.io/hostname"})

    def test_env_names_are_the_contract(self):
        env = effective_env(self.docs())
        allowed = CONTRACT_ENV | TLS_ENV | self.extra_env_names()
        self.assertLessEqual(set(env), allowed, "env vars outside DESIGN §7")
        self.assertLessEqual(set(DEFAULT_ENV), set(env))
        self.assertNotIn("MM_INSECURE_NO_AUTH", env)

    def extra_env_names(self):
        return set()

    def test_secret_env_vars_use_secret_key_ref(self):
        docs = self.docs()
        env = effective_env(docs)
        for name in SECRET_ENV & set(env):
            with self.subTest(name=name):
                self.assertEqual(set(env[name]), {"valueFrom"}, f"{name} must not be inline")
                self.assertIn("secretKeyRef", env[name]["valueFrom"])
        for cm in objects(docs, "ConfigMap"):
            self.assertFalse(SECRET_ENV & set(cm.get("data", {})), cm["metadata"]["name"])
        # No env var carries something that looks like secret material.
        for name, spec in env.items():
            self.assertNotRegex(str(spec.get("value", "")), r"whsec_|://[^/@]*@",
                                f"{name} looks like an inline secret")

    def test_secret_volumes_are_read_only_and_restrictive(self):
        pod, container = server_container(self.docs())
        secret_volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
        self.assertTrue(secret_volumes)
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        for name, secret in secret_volumes.items():
            with self.subTest(volume=name):
                self.assertIs(mounts[name].get("readOnly"), True)
                # Owner and group may read; nobody may write, others get nothing.
                self.assertEqual(secret["defaultMode"] & ~0o440, 0, oct(secret["defaultMode"]))
                self.assertTrue(secret["items"], "mount only the keys the server reads")

    def test_callers_file_is_mounted_from_a_secret(self):
        docs = self.docs()
        path = effective_env(docs)["MM_CALLERS_FILE"]["value"]
        volume = mounted_file(docs, path)
        self.assertIsNotNone(volume, f"nothing is mounted at {path}")
        self.assertIn("secret", volume)
        self.assertEqual({i["path"] for i in volume["secret"]["items"]}, {pathlib.Path(path).name})


class DefaultValuesTest(HardeningChecks, unittest.TestCase):
    full = False

    def test_objects(self):
        kinds = sorted(d["kind"] for d in self.docs())
        self.assertEqual(kinds, sorted([
            "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget",
            "Service", "ServiceAccount"]))

    def test_no_secret_is_rendered(self):
        text, docs = render()
        self.assertEqual(objects(docs, "Secret"), [])
        self.assertNotRegex(text, r"(?m)^kind:\s*Secret\s*$")
        _, container = server_container(docs)
        self.assertFalse([s for s in container.get("envFrom", []) if "secretRef" in s])

    def test_optional_objects_are_off(self):
        kinds = {d["kind"] for d in self.docs()}
        self.assertNotIn("ServiceMonitor", kinds)
        self.assertNotIn("NetworkPolicy", kinds)
        self.assertFalse([cm for cm in objects(self.docs(), "ConfigMap")
                          if cm["metadata"].get("labels", {}).get("grafana_dashboard")])

    def test_http_probes(self):
        _, container = server_container(self.docs())
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"),
                            ("startupProbe", "/healthz")):
            with self.subTest(probe=probe):
                get = container[probe]["httpGet"]
                self.assertEqual((get["path"], get["port"], get["scheme"]), (path, "http", "HTTP"))

    def test_default_env_values(self):
        env = effective_env(self.docs())
        for name, value in DEFAULT_ENV.items():
            if value is not None:
                self.assertEqual(env[name], {"value": value}, name)

    def test_optional_database_connections_are_off_by_default(self):
        env = effective_env(self.docs())
        self.assertEqual(env["MM_DATABASE_POOL_MODE"], {"value": "session"})
        for entry, (name, _, _) in DATABASE_EXTRA.items():
            self.assertNotIn(name, env, entry)

    def test_unsigned_fusionauth_webhooks_are_off_by_default(self):
        docs = self.docs()
        env = effective_env(docs)
        self.assertNotIn("MM_FUSIONAUTH_ALLOW_UNSIGNED", env)
        self.assertNotIn("MM_FUSIONAUTH_BASIC_AUTH_FILE", env)
        pod, _ = server_container(docs)
        self.assertFalse([v for v in pod["volumes"] if "basic-auth" in v["name"]])

    def test_no_pull_source_by_default(self):
        docs = self.docs()
        self.assertEqual(SOURCE_ENV & set(effective_env(docs)), set())
        for cm in objects(docs, "ConfigMap"):
            self.assertEqual(SOURCE_ENV & set(cm.get("data", {})), set(), cm["metadata"]["name"])
        pod, container = server_container(docs)
        self.assertFalse([m for m in container["volumeMounts"]
                          if m["mountPath"].startswith("/etc/membership-mirror/sources")])
        self.assertFalse([v for v in pod["volumes"] if v["name"].startswith("source")])


class FullValuesTest(HardeningChecks, unittest.TestCase):
    full = True

    def extra_env_names(self):
        values = full_values()
        return set(values["config"]["extra"]) | {e["name"] for e in values["extraEnv"]}

    def test_optional_objects_are_on(self):
        docs = self.docs()
        monitor = one(docs, "ServiceMonitor")
        self.assertEqual(monitor["apiVersion"], "monitoring.coreos.com/v1")
        (endpoint,) = monitor["spec"]["endpoints"]
        self.assertEqual((endpoint["port"], endpoint["path"], endpoint["scheme"]),
                         ("http", "/metrics", "https"))
        self.assertEqual(one(docs, "NetworkPolicy")["apiVersion"], "networking.k8s.io/v1")
        self.assertEqual(one(docs, "Service", f"{RELEASE}-membership-mirror-headless")
                         ["spec"]["clusterIP"], "None")

    def test_existing_secrets_never_render_secret_material(self):
        """devSecret is on and full of canaries, but every entry names an existing Secret."""
        text, docs = render(full=True)
        self.assertEqual(objects(docs, "Secret"), [])
        canaries = [v for v in full_values()["devSecret"].values() if isinstance(v, str)]
        self.assertTrue(canaries)
        # Every devSecret value of the chart has its canary here, new ones included.
        defaults = yaml.safe_load((CHART / "values.yaml").read_text())["devSecret"]
        self.assertEqual(set(full_values()["devSecret"]), set(defaults))
        for canary in canaries:
            for form in (canary, base64.b64encode(canary.encode()).decode()):
                self.assertNotIn(form, text)
        self.assertNotIn("leak-canary", text)

    def test_secret_refs_name_the_existing_secrets(self):
        values = full_values()["secrets"]
        env = effective_env(self.docs())
        for name, entry in (("MM_DATABASE_URL", "database"), ("MM_HUUDIS_SECRETS", "huudis"),
                            ("MM_FUSIONAUTH_HMAC_SECRETS", "fusionauthHmac"),
                            ("MM_DATABASE_LISTEN_URL", "databaseListen"),
                            ("MM_DATABASE_READ_URL", "databaseRead")):
            with self.subTest(name=name):
                ref = env[name]["valueFrom"]["secretKeyRef"]
                self.assertEqual((ref["name"], ref["key"]),
                                 (values[entry]["existingSecret"], values[entry]["key"]))
        callers = mounted_file(self.docs(), env["MM_CALLERS_FILE"]["value"])
        self.assertEqual(callers["secret"]["secretName"], values["callers"]["existingSecret"])
        basic = mounted_file(self.docs(), env["MM_FUSIONAUTH_BASIC_AUTH_FILE"]["value"])
        self.assertEqual(basic["secret"]["secretName"],
                         values["fusionauthBasicAuth"]["existingSecret"])

    def test_transaction_pooling_with_a_direct_connection(self):
        """Every pull source is on, through PgBouncer: the listen URL makes that renderable."""
        values = full_values()
        self.assertEqual(values["config"]["databasePoolMode"], "transaction")
        self.assertTrue(all(values["sources"][s]["enabled"]
                            for s in ("huudis", "monocloud", "fusionauth")))
        cm = one(self.docs(), "ConfigMap", f"{RELEASE}-membership-mirror")["data"]
        self.assertEqual(cm["MM_DATABASE_POOL_MODE"], "transaction")
        self.assertEqual({"MM_DATABASE_LISTEN_URL", "MM_DATABASE_READ_URL"} & set(cm), set())

    def test_fusionauth_webhook_settings(self):
        docs = self.docs()
        env = effective_env(docs)
        config = full_values()["config"]
        cm = one(docs, "ConfigMap", f"{RELEASE}-membership-mirror")["data"]
        self.assertEqual(cm["MM_FUSIONAUTH_MEMBERSHIPS"],
                         ",".join(config["fusionauthMemberships"]))
        self.assertIs(config["fusionauthAllowUnsigned"], True)
        self.assertEqual(cm["MM_FUSIONAUTH_ALLOW_UNSIGNED"], "1")
        # The Basic credentials are only a file, mounted read-only next to the variable naming it.
        self.assertNotIn("MM_FUSIONAUTH_BASIC_AUTH_FILE", cm)
        entry = full_values()["secrets"]["fusionauthBasicAuth"]
        path = env["MM_FUSIONAUTH_BASIC_AUTH_FILE"]["value"]
        self.assertEqual(set(env["MM_FUSIONAUTH_BASIC_AUTH_FILE"]), {"value"})
        mount, volume = mount_of(docs, path)
        self.assertIsNotNone(volume, f"nothing is mounted at {path}")
        self.assertIs(mount["readOnly"], True)
        self.assertEqual(volume["secret"]["items"],
                         [{"key": entry["key"], "path": pathlib.PurePath(path).name}])
        self.assertEqual(volume["secret"]["defaultMode"], 0o440)
        for name, spec in env.items():
            ref = spec.get("valueFrom", {}).get("secretKeyRef", {})
            self.assertNotEqual(ref.get("name"), entry["existingSecret"], name)

    def test_tls_files_are_mounted_from_their_secrets(self):
        docs = self.docs()
        env = effective_env(docs)
        self.assertLessEqual(TLS_ENV, set(env))
        tls = full_values()["tls"]
        for listener in ("grpc", "http"):
            expect = {"CERT": tls[listener]["existingSecret"], "KEY": tls[listener]["existingSecret"],
                      "CLIENT_CA": tls[listener]["clientCA"]["existingSecret"]
                      or tls[listener]["existingSecret"]}
            for part, secret in expect.items():
                name = f"MM_{listener.upper()}_TLS_{part}_FILE"
                with self.subTest(name=name):
                    volume = mounted_file(docs, env[name]["value"])
                    self.assertIsNotNone(volume, name)
                    self.assertEqual(volume["secret"]["secretName"], secret)
                    files = {i["path"] for i in volume["secret"]["items"]}
                    self.assertIn(pathlib.PurePath(env[name]["value"]).name, files)

    def test_source_settings(self):
        env = effective_env(self.docs())
        self.assertLessEqual(SOURCE_ENV, set(env), "full values enable every source setting")
        for name, value in FULL_SOURCE_SETTINGS.items():
            with self.subTest(name=name):
                self.assertEqual(env[name], {"value": value})
        # Plain settings come through the ConfigMap; the file settings are set next to their
        # mounts in the Deployment.
        cm = one(self.docs(), "ConfigMap", f"{RELEASE}-membership-mirror")
        self.assertLessEqual(set(FULL_SOURCE_SETTINGS), set(cm["data"]))
        self.assertEqual((set(SOURCE_FILE_ENV) | {"MM_SOURCE_CA_FILE"}) & set(cm["data"]), set())

    def test_source_credentials_are_files_from_their_secrets(self):
        docs = self.docs()
        env = effective_env(docs)
        sources = full_values()["sources"]
        secret_names = set()
        for name, source in SOURCE_FILE_ENV.items():
            with self.subTest(name=name):
                credential = sources[source]["credential"]
                secret_names.add(credential["existingSecret"])
                self.assertEqual(set(env[name]), {"value"})
                path = env[name]["value"]
                self.assertTrue(path.startswith(f"/etc/membership-mirror/sources/{source}/"), path)
                mount, volume = mount_of(docs, path)
                self.assertIsNotNone(volume, f"nothing is mounted at {path}")
                self.assertIs(mount["readOnly"], True)
                self.assertEqual(volume["secret"]["secretName"], credential["existingSecret"])
                self.assertEqual(volume["secret"]["items"],
                                 [{"key": credential["key"], "path": pathlib.PurePath(path).name}])
                self.assertEqual(volume["secret"]["defaultMode"], 0o440)
        # The credentials are only files: no env var reads them through secretKeyRef.
        for name, spec in env.items():
            ref = spec.get("valueFrom", {}).get("secretKeyRef", {})
            self.assertNotIn(ref.get("name"), secret_names, name)

    def test_source_ca_bundle_is_a_chart_config_map(self):
        docs = self.docs()
        path = effective_env(docs)["MM_SOURCE_CA_FILE"]["value"]
        mount, volume = mount_of(docs, path)
        self.assertIsNotNone(volume, f"nothing is mounted at {path}")
        self.assertIs(mount["readOnly"], True)
        cm = one(docs, "ConfigMap", volume["configMap"]["name"])
        self.assertEqual(volume["configMap"]["items"],
                         [{"key": "ca.crt", "path": pathlib.PurePath(path).name}])
        self.assertEqual(cm["data"]["ca.crt"].strip(),
                         full_values()["sources"]["caBundle"]["content"].strip())

    def test_probes_use_https_with_http_tls(self):
        _, container = server_container(self.docs())
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            self.assertEqual(container[probe]["httpGet"]["scheme"], "HTTPS", probe)

    def test_network_policy_rules(self):
        policy = one(self.docs(), "NetworkPolicy")["spec"]
        values = full_values()["networkPolicy"]
        self.assertEqual(set(policy["policyTypes"]), {"Ingress", "Egress"})
        by_port = {rule["ports"][0]["port"]: rule for rule in policy["ingress"]}
        self.assertEqual(set(by_port), {"http", "grpc"})
        self.assertEqual(by_port["http"]["from"], values["http"]["from"])
        namespaces = {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                      for p in by_port["grpc"]["from"] if "namespaceSelector" in p}
        self.assertEqual(namespaces, set(values["grpc"]["namespaces"]))
        egress_ports = {(p["port"], p.get("protocol", "TCP"))
                        for rule in policy["egress"] for p in rule.get("ports", [])}
        self.assertLessEqual({(53, "UDP"), (53, "TCP"), (5432, "TCP")}, egress_ports)

    def test_network_policy_lets_the_sources_out(self):
        egress = one(self.docs(), "NetworkPolicy")["spec"]["egress"]
        rules = [(rule["ports"], rule.get("to")) for rule in egress]
        peers = full_values()["networkPolicy"]["sources"]
        # Huudis and MonoCloud name no port: 443. FusionAuth's URL names 9011: only that.
        expected = ((443, peers["huudis"]["to"]), (443, None), (9011, peers["fusionauth"]["to"]))
        for port, to in expected:
            with self.subTest(port=port, to=to):
                self.assertIn(([{"port": port, "protocol": "TCP"}], to), rules)
        self.assertEqual(sum(1 for ports, _ in rules if ports[0]["port"] in (443, 9011)), 3)

    def test_dashboard_config_map(self):
        cm = one(self.docs(), "ConfigMap", f"{RELEASE}-membership-mirror-dashboard")
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(cm["metadata"]["namespace"], "monitoring")
        dashboard = json.loads(cm["data"]["membership-mirror.json"])
        self.assertEqual(dashboard["uid"], "membership-mirror")


class VariantsTest(unittest.TestCase):
    """Single settings changed from the defaults."""

    def test_grpc_probe_option(self):
        _, container = server_container(render(sets=("probes.type=grpc",))[1])
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(container[probe]["grpc"], {"port": 50051}, probe)
            self.assertNotIn("httpGet", container[probe])

    def test_grpc_probe_with_grpc_tls_is_refused(self):
        code, out = helm("template", RELEASE, str(CHART), *value_args(sets=(
            "probes.type=grpc", "tls.grpc.enabled=true", "tls.grpc.existingSecret=t")))
        self.assertNotEqual(code, 0)
        self.assertIn("plaintext", out)

    def test_dev_secret_is_a_hook_that_precedes_migrations(self):
        text, docs = render(sets=(
            "devSecret.create=true", "devSecret.databaseUrl=postgresql://u:p@db/mm",
            "devSecret.huudisSecrets=whsec_dev", "devSecret.callers=[]"))
        secret = one(docs, "Secret")
        self.assertEqual(set(secret["data"]), {"database-url", "huudis-secrets", "callers.json"})
        hook = secret["metadata"]["annotations"]
        job = one(docs, "Job")["metadata"]["annotations"]
        self.assertEqual(hook["helm.sh/hook"], job["helm.sh/hook"])
        self.assertLess(int(hook["helm.sh/hook-weight"]), int(job["helm.sh/hook-weight"]))
        env = effective_env(docs)
        self.assertEqual(env["MM_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"],
                         secret["metadata"]["name"])
        # Even here the values appear only base64-encoded inside the Secret.
        self.assertNotIn("whsec_dev", text)

    def test_dev_secret_missing_value_is_an_error(self):
        code, out = helm("template", RELEASE, str(CHART), *value_args(sets=(
            "devSecret.create=true", "devSecret.databaseUrl=postgresql://db/mm")))
        self.assertNotEqual(code, 0)
        self.assertIn("devSecret.huudisSecrets is required", out)

    def test_insecure_no_auth_is_explicit(self):
        docs = render(sets=("config.insecureNoAuth=true",))[1]
        env = effective_env(docs)
        self.assertEqual(env["MM_INSECURE_NO_AUTH"], {"value": "1"})
        self.assertNotIn("MM_CALLERS_FILE", env)

    def test_without_autoscaling_replicas_are_set(self):
        docs = render(sets=("autoscaling.enabled=false",))[1]
        self.assertEqual(objects(docs, "HorizontalPodAutoscaler"), [])
        self.assertEqual(one(docs, "Deployment")["spec"]["replicas"], 2)

    def test_one_source_with_defaults(self):
        docs = render(sets=HUUDIS_ON)[1]
        env = effective_env(docs)
        for name, value in HUUDIS_DEFAULT_SETTINGS.items():
            with self.subTest(name=name):
                self.assertEqual(env[name], {"value": value})
        # No list given: the variable is left to the server's default. Other sources stay off.
        self.assertEqual(SOURCE_ENV & set(env),
                         set(HUUDIS_DEFAULT_SETTINGS) | {"MM_HUUDIS_API_TOKEN_FILE"})
        volume = mounted_file(docs, env["MM_HUUDIS_API_TOKEN_FILE"]["value"])
        self.assertEqual(volume["secret"]["secretName"], f"{RELEASE}-membership-mirror")
        self.assertEqual(volume["secret"]["items"][0]["key"], "huudis-api-token")
        self.assertEqual(one(docs, "ConfigMap")["metadata"]["name"], f"{RELEASE}-membership-mirror")

    def test_source_credential_falls_back_to_the_shared_secret(self):
        docs = render(sets=(*HUUDIS_ON, "secrets.existingSecret=mm-shared"))[1]
        volume = mounted_file(docs, effective_env(docs)["MM_HUUDIS_API_TOKEN_FILE"]["value"])
        self.assertEqual(volume["secret"]["secretName"], "mm-shared")

    def test_lists_render_comma_separated(self):
        for values, expect in ((("acc_a",), "acc_a"),
                               (("acc_a", "acc_b", "acc_c"), "acc_a,acc_b,acc_c")):
            with self.subTest(values=values):
                env = effective_env(render(sets=(
                    *HUUDIS_ON, "sources.huudis.workspaces={%s}" % ",".join(values),
                    "sources.monocloud.enabled=true", "sources.monocloud.url=https://m.example",
                    "sources.monocloud.groups={%s}" % ",".join(values)))[1])
                self.assertEqual(env["MM_HUUDIS_WORKSPACES"], {"value": expect})
                self.assertEqual(env["MM_MONOCLOUD_GROUPS"], {"value": expect})

    def test_fusionauth_tenants_apply_to_webhooks_without_the_source(self):
        tenant = "5f0a1b6e-3c2d-4e8f-9a7b-1c2d3e4f5a6b"
        env = effective_env(render(sets=(
            "secrets.fusionauthHmac.enabled=true", f"sources.fusionauth.tenants={{{tenant}}}"))[1])
        self.assertEqual(env["MM_FUSIONAUTH_TENANTS"], {"value": tenant})
        self.assertEqual(SOURCE_ENV & set(env), {"MM_FUSIONAUTH_TENANTS"})

    def test_fusionauth_memberships_render_comma_separated(self):
        for values in (("registrations",), ("groups",), ("registrations", "groups"),
                       ("groups", "registrations")):
            with self.subTest(values=values):
                env = effective_env(render(sets=(
                    "config.fusionauthMemberships={%s}" % ",".join(values),))[1])
                self.assertEqual(env["MM_FUSIONAUTH_MEMBERSHIPS"], {"value": ",".join(values)})

    def test_schema_refuses_bad_fusionauth_memberships(self):
        for bad in ("config.fusionauthMemberships=groups", "config.fusionauthMemberships={users}",
                    "config.fusionauthMemberships={groups,groups}",
                    "config.fusionauthMemberships={registrations,groups,roles}"):
            with self.subTest(value=bad):
                code, out = helm("lint", "--strict", str(CHART), "--set", bad)
                self.assertNotEqual(code, 0, out)
        # --set cannot give an empty list ({} is [""]); at least one kind is required.
        code, out = helm("lint", "--strict", str(CHART),
                         "--set-json", "config.fusionauthMemberships=[]")
        self.assertNotEqual(code, 0, out)
        self.assertIn("minItems", out)

    def test_fusionauth_allow_unsigned_mounts_the_basic_credentials(self):
        text, docs = render(sets=FUSIONAUTH_UNSIGNED_ON)
        env = effective_env(docs)
        self.assertEqual(env["MM_FUSIONAUTH_ALLOW_UNSIGNED"], {"value": "1"})
        path = env["MM_FUSIONAUTH_BASIC_AUTH_FILE"]["value"]
        self.assertEqual(set(env["MM_FUSIONAUTH_BASIC_AUTH_FILE"]), {"value"})
        self.assertTrue(path.startswith("/etc/membership-mirror/"), path)
        mount, volume = mount_of(docs, path)
        self.assertIsNotNone(volume, f"nothing is mounted at {path}")
        self.assertIs(mount["readOnly"], True)
        self.assertEqual(volume["secret"]["secretName"], f"{RELEASE}-membership-mirror")
        self.assertEqual(volume["secret"]["items"],
                         [{"key": "fusionauth-basic-auth", "path": pathlib.PurePath(path).name}])
        self.assertEqual(volume["secret"]["defaultMode"], 0o440)
        # It must not shadow the public keys file, which has a directory of its own.
        keys_env = effective_env(render(sets=(
            *FUSIONAUTH_UNSIGNED_ON, "fusionauthPublicKeys.enabled=true",
            "fusionauthPublicKeys.existingConfigMap=fa-keys"))[1])
        self.assertNotEqual(pathlib.PurePath(keys_env["MM_FUSIONAUTH_PUBLIC_KEYS_FILE"]["value"])
                            .parent, pathlib.PurePath(path).parent)
        self.assertEqual(objects(docs, "Secret"), [])

    def test_fusionauth_allow_unsigned_needs_the_basic_credentials(self):
        out = template_error("config.fusionauthAllowUnsigned=true")
        self.assertIn("config.fusionauthAllowUnsigned needs secrets.fusionauthBasicAuth.enabled",
                      out)
        # The credentials alone are mounted (the server only checks them), unsigned stays off.
        env = effective_env(render(sets=("secrets.fusionauthBasicAuth.enabled=true",))[1])
        self.assertIn("MM_FUSIONAUTH_BASIC_AUTH_FILE", env)
        self.assertNotIn("MM_FUSIONAUTH_ALLOW_UNSIGNED", env)

    def test_dev_secret_holds_the_fusionauth_basic_credentials(self):
        dev = ("devSecret.create=true", "devSecret.databaseUrl=postgresql://u:p@db/mm",
               "devSecret.huudisSecrets=whsec_dev", "devSecret.callers=[]")
        text, docs = render(sets=(*dev, *FUSIONAUTH_UNSIGNED_ON,
                                  "devSecret.fusionauthBasicAuth=dev-user:dev-password"))
        secret = one(docs, "Secret")
        self.assertEqual(base64.b64decode(secret["data"]["fusionauth-basic-auth"]),
                         b"dev-user:dev-password")
        volume = mounted_file(docs, effective_env(docs)["MM_FUSIONAUTH_BASIC_AUTH_FILE"]["value"])
        self.assertEqual(volume["secret"]["secretName"], secret["metadata"]["name"])
        self.assertNotIn("dev-password", text)
        self.assertIn("devSecret.fusionauthBasicAuth is required",
                      template_error(*dev, *FUSIONAUTH_UNSIGNED_ON))

    def test_database_pool_mode_reaches_the_config_map(self):
        for mode in ("session", "transaction"):
            with self.subTest(mode=mode):
                docs = render(sets=(f"config.databasePoolMode={mode}",))[1]
                cm = one(docs, "ConfigMap", f"{RELEASE}-membership-mirror")["data"]
                self.assertEqual(cm["MM_DATABASE_POOL_MODE"], mode)
                _, container = server_container(docs)
                self.assertNotIn("MM_DATABASE_POOL_MODE", {e["name"] for e in container["env"]})

    def test_database_listen_and_read_urls_are_secret_key_refs(self):
        for entry, (name, key, _) in DATABASE_EXTRA.items():
            with self.subTest(entry=entry):
                text, docs = render(sets=(f"secrets.{entry}.enabled=true",))
                env = effective_env(docs)
                self.assertEqual(env[name], {"valueFrom": {"secretKeyRef": {
                    "name": f"{RELEASE}-membership-mirror", "key": key}}})
                # Only the one turned on; the other stays unset.
                for other, (other_name, _, _) in DATABASE_EXTRA.items():
                    if other != entry:
                        self.assertNotIn(other_name, env)
                for cm in objects(docs, "ConfigMap"):
                    self.assertNotIn(name, cm.get("data", {}))
                self.assertEqual(objects(docs, "Secret"), [])
        # Both on, each from a Secret and key of its own (or the shared default Secret).
        env = effective_env(render(sets=(
            *DATABASE_EXTRA_ON, "secrets.existingSecret=mm-shared",
            "secrets.databaseListen.existingSecret=pg-direct",
            "secrets.databaseRead.key=replica"))[1])
        self.assertEqual(env["MM_DATABASE_LISTEN_URL"]["valueFrom"]["secretKeyRef"],
                         {"name": "pg-direct", "key": "database-listen-url"})
        self.assertEqual(env["MM_DATABASE_READ_URL"]["valueFrom"]["secretKeyRef"],
                         {"name": "mm-shared", "key": "replica"})

    def test_database_listen_and_read_urls_stay_out_of_the_migrations_job(self):
        docs = render(sets=(*DATABASE_EXTRA_ON, "config.databasePoolMode=transaction"))[1]
        job = one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual({e["name"] for e in job["env"]}, {"MM_DATABASE_URL", "MM_LOG_LEVEL"})

    def test_transaction_pooling_with_a_pull_source_needs_the_listen_url(self):
        sources = {"huudis": HUUDIS_ON,
                   "monocloud": ("sources.monocloud.enabled=true",
                                 "sources.monocloud.url=https://m.example"),
                   "fusionauth": ("sources.fusionauth.enabled=true",
                                  "sources.fusionauth.url=https://fa.example")}
        for source, sets in sources.items():
            with self.subTest(source=source):
                out = template_error("config.databasePoolMode=transaction", *sets)
                self.assertIn("config.databasePoolMode=transaction with a pull source enabled "
                              f"(sources.{source}) needs secrets.databaseListen.enabled", out)
                # With the direct connection it renders, and so it does in session mode.
                env = effective_env(render(sets=(
                    "config.databasePoolMode=transaction", "secrets.databaseListen.enabled=true",
                    *sets))[1])
                self.assertIn("MM_DATABASE_LISTEN_URL", env)
                env = effective_env(render(sets=sets)[1])
                self.assertNotIn("MM_DATABASE_LISTEN_URL", env)
        # Without pull sources, transaction mode needs no listen URL (the follower polls).
        env = effective_env(render(sets=("config.databasePoolMode=transaction",))[1])
        self.assertEqual(env["MM_DATABASE_POOL_MODE"], {"value": "transaction"})
        self.assertNotIn("MM_DATABASE_LISTEN_URL", env)

    def test_dev_secret_holds_the_database_listen_and_read_urls(self):
        dev = ("devSecret.create=true", "devSecret.databaseUrl=postgresql://u:p@pgbouncer/mm",
               "devSecret.huudisSecrets=whsec_dev", "devSecret.callers=[]")
        urls = {"databaseListenUrl": "postgresql://u:dev-listen-pw@db/mm",
                "databaseReadUrl": "postgresql://u:dev-read-pw@replica/mm"}
        text, docs = render(sets=(*dev, *DATABASE_EXTRA_ON,
                                  *(f"devSecret.{k}={v}" for k, v in urls.items())))
        secret = one(docs, "Secret")
        env = effective_env(docs)
        for entry, (name, key, dev_value) in DATABASE_EXTRA.items():
            with self.subTest(entry=entry):
                self.assertEqual(base64.b64decode(secret["data"][key]).decode(), urls[dev_value])
                self.assertEqual(env[name]["valueFrom"]["secretKeyRef"],
                                 {"name": secret["metadata"]["name"], "key": key})
        for url in urls.values():
            self.assertNotIn(url, text)
        for entry in DATABASE_EXTRA:
            others = [f"devSecret.{k}={v}" for k, v in urls.items()
                      if k != DATABASE_EXTRA[entry][2]]
            with self.subTest(missing=entry):
                self.assertIn(f"devSecret.{DATABASE_EXTRA[entry][2]} is required",
                              template_error(*dev, *DATABASE_EXTRA_ON, *others))
        # Off, they are not written even when given.
        secret = one(render(sets=(*dev, *(f"devSecret.{k}={v}" for k, v in urls.items())))[1],
                     "Secret")
        self.assertEqual(set(secret["data"]), {"database-url", "huudis-secrets", "callers.json"})

    def test_enabled_source_needs_its_url(self):
        for source in ("huudis", "monocloud", "fusionauth"):
            with self.subTest(source=source):
                out = template_error(f"sources.{source}.enabled=true")
                self.assertIn(f"sources.{source}.url is required when sources.{source}.enabled",
                              out)

    def test_enabled_source_needs_its_credential(self):
        for source in ("huudis", "monocloud", "fusionauth"):
            with self.subTest(source=source):
                out = template_error(f"sources.{source}.enabled=true",
                                     f"sources.{source}.url=https://{source}.example",
                                     f"sources.{source}.credential=null")
                self.assertIn(f"sources.{source}.credential.key is required when "
                              f"sources.{source}.enabled", out)

    def test_source_url_port_must_be_valid(self):
        self.assertIn("names port 70000",
                      template_error(HUUDIS_ON[0], "sources.huudis.url=https://h.example:70000"))

    def test_source_ports_in_network_policy(self):
        policy = one(render(sets=(
            "networkPolicy.enabled=true", "sources.monocloud.enabled=true",
            "sources.monocloud.url=http://monocloud-proxy.infra.svc",
            "sources.fusionauth.enabled=true",
            "sources.fusionauth.url=https://[fd00::1]:8443/fa"))[1], "NetworkPolicy")["spec"]
        ports = [rule["ports"] for rule in policy["egress"]]
        self.assertIn([{"port": 80, "protocol": "TCP"}], ports)  # http:// naming no port
        self.assertIn([{"port": 8443, "protocol": "TCP"}], ports)
        self.assertNotIn([{"port": 443, "protocol": "TCP"}], ports)

    def test_network_policy_without_sources_opens_nothing_more(self):
        policy = one(render(sets=("networkPolicy.enabled=true",))[1], "NetworkPolicy")["spec"]
        egress_ports = {(p["port"], p["protocol"])
                        for rule in policy["egress"] for p in rule["ports"]}
        self.assertEqual(egress_ports, {(53, "UDP"), (53, "TCP"), (5432, "TCP")})

    def test_source_ca_bundle_from_existing_objects(self):
        for kind, sets in (("secret", ("sources.caBundle.existingSecret=corp-ca",)),
                           ("configMap", ("sources.caBundle.existingConfigMap=corp-ca",
                                          "sources.caBundle.key=bundle.pem"))):
            with self.subTest(kind=kind):
                docs = render(sets=(*HUUDIS_ON, "sources.caBundle.enabled=true", *sets))[1]
                mount, volume = mount_of(docs, effective_env(docs)["MM_SOURCE_CA_FILE"]["value"])
                self.assertIs(mount["readOnly"], True)
                self.assertEqual(volume[kind].get("secretName") or volume[kind].get("name"),
                                 "corp-ca")
                self.assertEqual(volume[kind]["items"][0]["key"],
                                 "bundle.pem" if kind == "configMap" else "ca.crt")
                # Nothing created by the chart: only the settings ConfigMap.
                self.assertEqual(len(objects(docs, "ConfigMap")), 1)
        self.assertIn("not both", template_error(
            *HUUDIS_ON, "sources.caBundle.enabled=true", "sources.caBundle.existingSecret=a",
            "sources.caBundle.existingConfigMap=b"))
        self.assertIn("sources.caBundle.content", template_error(
            *HUUDIS_ON, "sources.caBundle.enabled=true"))

    def test_source_ca_bundle_needs_an_enabled_source(self):
        env = effective_env(render(sets=(
            "sources.caBundle.enabled=true", "sources.caBundle.existingSecret=corp-ca"))[1])
        self.assertNotIn("MM_SOURCE_CA_FILE", env)

    def test_dev_secret_holds_source_credentials(self):
        dev = ("devSecret.create=true", "devSecret.databaseUrl=postgresql://u:p@db/mm",
               "devSecret.huudisSecrets=whsec_dev", "devSecret.callers=[]")
        text, docs = render(sets=(*dev, *HUUDIS_ON, "devSecret.huudisApiToken=dev-api-token"))
        secret = one(docs, "Secret")
        self.assertIn("huudis-api-token", secret["data"])
        volume = mounted_file(docs, effective_env(docs)["MM_HUUDIS_API_TOKEN_FILE"]["value"])
        self.assertEqual(volume["secret"]["secretName"], secret["metadata"]["name"])
        self.assertNotIn("dev-api-token", text)
        self.assertIn("devSecret.huudisApiToken is required", template_error(*dev, *HUUDIS_ON))

    def test_schema_refuses_bad_values(self):
        for bad in ("securityContext.runAsUser=0", "config.unknownUsers=maybe",
                    "probes.type=tcp", "noSuchKey=1", "containerPorts.http=80",
                    "sources.huudis.enabled=yes", "sources.huudis.url=ftp://huudis.example",
                    "sources.huudis.url=https://user:pass@huudis.example/api",
                    "sources.monocloud.url=https://acme.monocloud.com?tenant=x",
                    "sources.huudis.workspaces=acc_a", "sources.huudis.workspaces={ws_a}",
                    "sources.monocloud.groups={a b}", "sources.fusionauth.tenants={default}",
                    "sources.huudis.auditPollSeconds=0", "sources.huudis.auditOverlapSeconds=-1",
                    "sources.monocloud.pollSeconds=0", "sources.fusionauth.recheckSeconds=0",
                    "sources.reconcile.intervalSeconds=0", "sources.reconcile.dryRun=1",
                    "sources.connectTimeoutMs=0", "sources.timeoutMs=0", "sources.pageSize=0",
                    "sources.huudis.credential.key=",
                    "sources.huudis.credential.existingSecret=Bad_Name",
                    "sources.caBundle.existingSecret=Bad_Name", "sources.huudis.noSuchKey=1",
                    "networkPolicy.sources.huudis.to=anywhere",
                    "config.fusionauthAllowUnsigned=1", "secrets.fusionauthBasicAuth.enabled=yes",
                    "secrets.fusionauthBasicAuth.key=",
                    "secrets.fusionauthBasicAuth.existingSecret=Bad_Name",
                    "config.databasePoolMode=statement", "config.databasePoolMode=Transaction",
                    "secrets.databaseListen.enabled=yes", "secrets.databaseListen.key=",
                    "secrets.databaseListen.existingSecret=Bad_Name",
                    "secrets.databaseRead.enabled=1", "secrets.databaseRead.key=",
                    "secrets.databaseRead.existingSecret=Bad_Name",
                    "secrets.databaseRead.url=postgresql://replica/mm"):
            with self.subTest(value=bad):
                code, out = helm("lint", "--strict", str(CHART), "--set", bad)
                self.assertNotEqual(code, 0, out)


class ValuesFileTest(unittest.TestCase):
    def test_every_value_is_documented(self):
        """values.yaml is the chart's manual: each key has a comment right above it."""
        lines = (CHART / "values.yaml").read_text().splitlines()
        undocumented = [
            f"{number}: {line.strip()}" for number, line in enumerate(lines, 1)
            if re.match(r"\s*[A-Za-z_][\w.-]*:", line)
            and (number < 2 or not lines[number - 2].strip().startswith("#"))]
        self.assertEqual(undocumented, [])

    def test_nothing_secret_by_default(self):
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        self.assertFalse(values["devSecret"]["create"])
        self.assertEqual({k: v for k, v in values["devSecret"].items() if k != "create"},
                         dict.fromkeys(("databaseUrl", "databaseListenUrl", "databaseReadUrl",
                                        "huudisSecrets", "fusionauthHmacSecrets",
                                        "fusionauthBasicAuth", "callers", "huudisApiToken",
                                        "monocloudApiKey", "fusionauthApiKey"), ""))
        self.assertFalse(any(values["sources"][s]["enabled"]
                             for s in ("huudis", "monocloud", "fusionauth")))
        self.assertFalse(values["config"]["insecureNoAuth"])
        self.assertFalse(values["config"]["fusionauthAllowUnsigned"])
        self.assertFalse(values["secrets"]["fusionauthBasicAuth"]["enabled"])
        self.assertEqual(values["config"]["databasePoolMode"], "session")
        self.assertFalse(values["secrets"]["databaseListen"]["enabled"])
        self.assertFalse(values["secrets"]["databaseRead"]["enabled"])


class DashboardTest(unittest.TestCase):
    def test_dashboard_charts_every_metric(self):
        dashboard = json.loads((CHART / "dashboards" / "membership-mirror.json").read_text())
        exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
        for metric in METRICS:
            self.assertRegex(exprs, rf"\b{metric}(_bucket)?\b", metric)
        for name in set(re.findall(r"\bmm_[a-z_]+", exprs)):
            self.assertTrue(any(name == m or name == f"{m}_bucket" for m in METRICS),
                            f"dashboard uses unknown metric {name}")


class DockerfileTest(unittest.TestCase):
    """No Docker engine here: check the Dockerfile against the scripts and the chart instead."""

    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text()

    def test_package_lists_are_read_not_copied(self):
        for name in ("apt-packages.txt", "apt-runtime-packages.txt"):
            with self.subTest(list=name):
                self.assertIn(f"COPY scripts/{name} ", self.dockerfile)
                packages = [line.split()[0] for line in (REPO / "scripts" / name).read_text()
                            .splitlines() if line.strip() and not line.startswith("#")]
                self.assertTrue(packages)
                # A package named in the Dockerfile itself would be a second source of truth.
                for package in packages:
                    self.assertNotRegex(self.dockerfile, rf"install[^\n]*\b{re.escape(package)}\b")

    def test_image_matches_the_chart(self):
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        self.assertRegex(self.dockerfile, rf"(?m)^USER {values['securityContext']['runAsUser']}:")
        ports = values["containerPorts"]
        self.assertRegex(self.dockerfile, rf"(?m)^EXPOSE {ports['http']} {ports['grpc']}$")
        self.assertIn('ENTRYPOINT ["membership-mirror"]', self.dockerfile)
        self.assertIn('CMD ["serve"]', self.dockerfile)
        self.assertIn("/usr/share/membership-mirror/migrations", self.dockerfile)
        self.assertRegex(self.dockerfile, r"(?m)^FROM debian:bookworm AS build")
        self.assertRegex(self.dockerfile, r"(?m)^FROM debian:bookworm-slim")


if __name__ == "__main__":
    unittest.main()
